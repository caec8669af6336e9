package ratelimit_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/interceptor/ratelimit"
	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// hostileTrailers are pushback trailers a server may send; the valid ones
// ask for far longer than the client's cap.
var hostileTrailers = []metadata.MD{
	metadata.Pairs(ratelimit.PushbackTrailer, "60000"),
	metadata.Pairs(ratelimit.PushbackTrailer, "-5"),
	metadata.Pairs(ratelimit.PushbackTrailer, "abc"),
	metadata.Pairs(ratelimit.PushbackTrailer, ""),
	metadata.Pairs(ratelimit.PushbackTrailer, "99999999999999999999"),
	metadata.Pairs(ratelimit.PushbackTrailer, "1", ratelimit.PushbackTrailer, "2"),
	metadata.Pairs(ratelimit.PushbackTrailer, "9223372036854"),
}

// TestStreamEndRacesPushback: many goroutines open streams and unary calls
// that a server rejects in trailers-only responses with hostile pushback
// trailers, while others cancel their streams, close them and let them end:
// no race (run with -race), no panic, every failure is the server's, the
// client's hold or the cancel, and once the cap has passed calls go through.
func TestStreamEndRacesPushback(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	var n atomic.Int64
	reject := func() error {
		if !failing.Load() {
			return nil
		}
		return status.Error(codes.ResourceExhausted, "server says no")
	}
	srv := greeter.Start(t, kitresolver.Instance{},
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := reject(); err != nil {
				_ = grpc.SetTrailer(ctx, hostileTrailers[n.Add(1)%int64(len(hostileTrailers))])
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(s any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := reject(); err != nil {
				ss.SetTrailer(hostileTrailers[n.Add(1)%int64(len(hostileTrailers))])
				return err
			}
			return h(s, ss)
		}))
	const maxHold = 300 * time.Millisecond
	clock := ratelimit.NewFakeClock(start)
	perMsg, err := ratelimit.NewTokenBucket(1000, 1000, ratelimit.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	rc := ratelimit.NewClient(ratelimit.Unlimited, ratelimit.WithClock(clock),
		ratelimit.WithMaxPushback(maxHold), ratelimit.WithPerMessage(perMsg),
		ratelimit.WithPushbackScope(ratelimit.PushbackPerTarget))
	c := dialClient(t, srv.Addr, rc)
	ctx := testCtx(t)
	okErr := func(err error) bool {
		switch status.Code(err) {
		case codes.OK, codes.ResourceExhausted, codes.Canceled:
			return true
		}
		return false
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 30 {
				sctx, cancel := context.WithCancel(ctx)
				switch (g + i) % 3 {
				case 0:
					if _, err := c.SayHello(sctx, &greeterv1.SayHelloRequest{Name: "u"}); !okErr(err) {
						t.Errorf("unary: %v", err)
					}
				case 1:
					s, err := c.SayHelloBidi(sctx)
					if err != nil {
						if !okErr(err) {
							t.Errorf("open: %v", err)
						}
						break
					}
					go cancel() // racing the server's end of the stream
					_ = s.Send(&greeterv1.SayHelloBidiRequest{Name: "b"})
					_ = s.CloseSend()
					if _, err := s.Recv(); !okErr(err) {
						t.Errorf("bidi: %v", err)
					}
				default:
					if _, err := callServerStream(sctx, c); !okErr(err) {
						t.Errorf("server stream: %v", err)
					}
				}
				cancel()
				if i%10 == 0 {
					clock.Advance(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	failing.Store(false)
	clock.Advance(maxHold)
	for _, k := range kinds {
		if _, err := k.call(ctx, c); err != nil {
			t.Errorf("%s after the cap passed: %v", k.name, err)
		}
	}
}
