package breaker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/interceptor/breaker"
	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

func newThrottle(t *testing.T, cfg breaker.Throttling, opts ...breaker.Option) *breaker.Throttle {
	t.Helper()
	th, err := breaker.NewThrottle(cfg, opts...)
	if err != nil {
		t.Fatalf("NewThrottle: %v", err)
	}
	return th
}

func dialThrottled(t *testing.T, addr string, th *breaker.Throttle) (*grpc.ClientConn, greeterv1.GreeterClient) {
	t.Helper()
	cc, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(th.UnaryClientInterceptor()),
		grpc.WithChainStreamInterceptor(th.StreamClientInterceptor()),
	)
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc, greeterv1.NewGreeterClient(cc)
}

// TestThrottleAllRPCKinds: for each RPC kind, healthy calls are accepted
// and never refused; once the backend fails every call, the client refuses
// calls itself with Unavailable naming the method and adaptive throttling,
// and those calls never reach the server.
func TestThrottleAllRPCKinds(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.method, func(t *testing.T) {
			ctx := testContext(t)
			srv := greeter.Start(t, kitresolver.Instance{})
			th := newThrottle(t, breaker.Throttling{Window: time.Hour})
			_, client := dialThrottled(t, srv.Addr, th)
			key := service + k.method

			for range 20 {
				if err := k.call(ctx, client); err != nil {
					t.Fatalf("healthy call: %v", err)
				}
			}
			if p, req, acc := th.Probability(key); p != 0 || req != 20 || acc != 20 {
				t.Fatalf("after 20 healthy calls: p=%v, %d requests, %d accepts; want 0, 20, 20", p, req, acc)
			}
			srv.SetFailure(codes.Unavailable)
			refused := 0
			for i := 0; refused < 10; i++ {
				if i == 1000 {
					t.Fatalf("only %d of %d calls to a failing backend refused", refused, i)
				}
				before := srv.Calls()
				err := k.call(ctx, client)
				msg := status.Convert(err).Message()
				switch {
				case status.Code(err) != codes.Unavailable:
					t.Fatalf("call to failing server: %v", err)
				case strings.HasPrefix(msg, "breaker: "+key+": adaptive throttling: refused with probability "):
					refused++
					if srv.Calls() != before {
						t.Fatalf("a refused call reached the server")
					}
				case strings.Contains(msg, "breaker"):
					t.Fatalf("unexpected refusal: %v", err)
				}
			}
		})
	}
}

// TestThrottleNotCounted: calls that never reached a backend or that their
// caller cancelled count neither as requests nor as accepts.
func TestThrottleNotCounted(t *testing.T) {
	ctx := testContext(t)
	srv := greeter.Start(t, kitresolver.Instance{})
	th := newThrottle(t, breaker.Throttling{})
	cc, client := dialThrottled(t, srv.Addr, th)
	srv.SetDelay(time.Minute)
	for _, k := range kinds {
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(50*time.Millisecond, cancel)
		if err := k.call(cctx, client); status.Code(err) != codes.Canceled {
			t.Fatalf("%s: cancelled call: %v", k.method, err)
		}
		cancel()
	}
	srv.Stop()
	// Wait until the client has seen the server go: a call on the old
	// connection would reach the network and count as a failure.
	for s := cc.GetState(); s == connectivity.Ready; s = cc.GetState() {
		if !cc.WaitForStateChange(ctx, s) {
			t.Fatalf("connection still %v", s)
		}
	}
	for _, k := range kinds {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_ = k.call(cctx, client) // no server: no transport stream
		cancel()
	}
	for _, k := range kinds {
		if p, req, acc := th.Probability(service + k.method); p != 0 || req != 0 || acc != 0 {
			t.Errorf("%s: p=%v, %d requests, %d accepts; want nothing counted", k.method, p, req, acc)
		}
	}
}
