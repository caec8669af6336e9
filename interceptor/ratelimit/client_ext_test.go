package ratelimit_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/interceptor/ratelimit"
	"github.com/grpckit/grpckit/internal/greeter"
	"github.com/grpckit/grpckit/internal/testutil"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// heldByClient is what the message of a call the client held back says.
const heldByClient = "held back by the client"

// pushbackServer is a greeter whose next calls (set with push) fail with
// ResourceExhausted and the pushback trailer ms; the others go through.
type pushbackServer struct {
	*greeter.Running
	ms      string
	pending atomic.Int64 // calls still to push back
}

func startPushbackServer(t *testing.T, ms string) *pushbackServer {
	t.Helper()
	ps := &pushbackServer{ms: ms}
	ps.Running = greeter.Start(t, kitresolver.Instance{},
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if ps.pending.Add(-1) >= 0 {
				_ = grpc.SetTrailer(ctx, metadata.Pairs(ratelimit.PushbackTrailer, ps.ms))
				return nil, status.Error(codes.ResourceExhausted, "server says no")
			}
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if ps.pending.Add(-1) >= 0 {
				ss.SetTrailer(metadata.Pairs(ratelimit.PushbackTrailer, ps.ms))
				return status.Error(codes.ResourceExhausted, "server says no")
			}
			return h(srv, ss)
		}))
	return ps
}

// push makes the next call fail with the pushback.
func (ps *pushbackServer) push() { ps.pending.Store(1) }

// dialClient dials addr with c's unary and stream interceptors.
func dialClient(t *testing.T, addr string, c *ratelimit.Client) greeterv1.GreeterClient {
	t.Helper()
	return dial(t, addr,
		grpc.WithUnaryInterceptor(c.UnaryClientInterceptor()),
		grpc.WithStreamInterceptor(c.StreamClientInterceptor()))
}

// wantHeld fails unless err is the client's holding back of method.
func wantHeld(t *testing.T, err error, method string) {
	t.Helper()
	wantRejected(t, err, method)
	if msg := status.Convert(err).Message(); !strings.Contains(msg, heldByClient) {
		t.Fatalf("message %q does not say the client held the call back", msg)
	}
}

// TestPushbackHoldIsCapped: a server asking for a hundred years holds the
// client's calls for WithMaxPushback (by default DefaultMaxPushback) only;
// the server's own rejection and the client's hold say which side refused.
func TestPushbackHoldIsCapped(t *testing.T) {
	for _, maxHold := range []time.Duration{0, 200 * time.Millisecond} {
		srv := startPushbackServer(t, "3153600000000")
		clock := ratelimit.NewFakeClock(start)
		opts := []ratelimit.Option{ratelimit.WithClock(clock)}
		want := ratelimit.DefaultMaxPushback
		if maxHold > 0 {
			opts, want = append(opts, ratelimit.WithMaxPushback(maxHold)), maxHold
		}
		c := dialClient(t, srv.Addr, ratelimit.NewClient(ratelimit.Unlimited, opts...))
		ctx := testCtx(t)
		srv.push()
		_, err := callUnary(ctx, c)
		if msg := status.Convert(err).Message(); status.Code(err) != codes.ResourceExhausted || strings.Contains(msg, heldByClient) {
			t.Fatalf("the server's pushback: %v; want its ResourceExhausted, not the client's", err)
		}
		n := srv.Calls()
		clock.Advance(want - time.Millisecond)
		_, err = callUnary(ctx, c)
		wantHeld(t, err, methodUnary)
		clock.Advance(time.Millisecond)
		if _, err := callUnary(ctx, c); err != nil {
			t.Fatalf("max hold %v: call after it: %v", want, err)
		}
		if srv.Calls() != n+1 {
			t.Fatalf("max hold %v: the call after it did not reach the server", want)
		}
	}
}

// TestPushbackIsPerTargetAndMethod: one server's pushback holds back calls
// of that method to that server only, by default; with PushbackPerTarget
// every method to that server, the unary and the stream interceptors of one
// Client alike.
func TestPushbackIsPerTargetAndMethod(t *testing.T) {
	for _, perTarget := range []bool{false, true} {
		slow, healthy := startPushbackServer(t, "60000"), greeter.Start(t, kitresolver.Instance{})
		clock := ratelimit.NewFakeClock(start)
		opts := []ratelimit.Option{ratelimit.WithClock(clock)}
		if perTarget {
			opts = append(opts, ratelimit.WithPushbackScope(ratelimit.PushbackPerTarget))
		}
		rc := ratelimit.NewClient(ratelimit.Unlimited, opts...)
		toSlow, toHealthy := dialClient(t, slow.Addr, rc), dialClient(t, healthy.Addr, rc)
		ctx := testCtx(t)
		slow.push()
		if _, err := callServerStream(ctx, toSlow); status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("stream to the server pushing back: %v", err)
		}
		_, err := callServerStream(ctx, toSlow)
		wantHeld(t, err, methodServer)
		for _, k := range kinds {
			if _, err := k.call(ctx, toHealthy); err != nil {
				t.Errorf("per target %v: %s to another server: %v", perTarget, k.name, err)
			}
		}
		_, err = callUnary(ctx, toSlow)
		if perTarget {
			wantHeld(t, err, methodUnary)
		} else if err != nil {
			t.Errorf("another method to the server pushing back: %v", err)
		}
	}
}

// TestPushbackNotedWhenInnerReturnsEarly: an inner interceptor that runs the
// invoker on another goroutine and returns before the call ends (a soft
// timeout, hedging) neither races with the limiter (run with -race) nor
// loses the pushback the call ends with.
func TestPushbackNotedWhenInnerReturnsEarly(t *testing.T) {
	srv := startPushbackServer(t, "60000")
	clock := ratelimit.NewFakeClock(start)
	finished := make(chan error, 16)
	release := make(chan struct{})
	soft := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx = context.WithoutCancel(ctx)
		go func() {
			<-release
			finished <- invoker(ctx, method, req, reply, cc, opts...)
		}()
		return status.Error(codes.DeadlineExceeded, "soft timeout")
	}
	rc := ratelimit.NewClient(ratelimit.Unlimited, ratelimit.WithClock(clock))
	c := dial(t, srv.Addr, grpc.WithUnaryInterceptor(rc.WrapUnary(soft)))
	ctx := testCtx(t)
	srv.push()
	if _, err := c.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "u"}); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("first call: %v, want the soft timeout", err)
	}
	// More calls in flight while the first ones end: whatever the limiter
	// keeps per call must not be shared with them.
	for range 8 {
		if _, err := c.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "x"}); status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("call: %v, want the soft timeout", err)
		}
	}
	close(release)
	pushedBack := 0
	for range 9 {
		if err := <-finished; status.Code(err) == codes.ResourceExhausted {
			pushedBack++
		} else if err != nil {
			t.Fatalf("a call run on another goroutine: %v", err)
		}
	}
	if pushedBack != 1 {
		t.Fatalf("%d calls pushed back, want 1", pushedBack)
	}
	_, err := c.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "u"})
	wantHeld(t, err, methodUnary)
}

// TestClientPerMessageRejectionEndsStream: a message the client's limiter
// refuses fails SendMsg and, as any SendMsg error does, ends the stream: its
// context is cancelled (the server sees it go, the interceptors inside
// release what they hold), and RecvMsg returns the rejection.
func TestClientPerMessageRejectionEndsStream(t *testing.T) {
	clock := ratelimit.NewFakeClock(start)
	perMsg := bucketOn(t, clock, 1, 1)
	srv := greeter.Start(t, kitresolver.Instance{})
	var innerDone atomic.Bool
	inner := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		context.AfterFunc(ctx, func() { innerDone.Store(true) })
		return streamer(ctx, desc, cc, method, opts...)
	}
	c := dial(t, srv.Addr, grpc.WithChainStreamInterceptor(
		ratelimit.StreamClientInterceptor(ratelimit.Unlimited, ratelimit.WithPerMessage(perMsg)), inner))
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	s, err := c.SayHelloBidi(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&greeterv1.SayHelloBidiRequest{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	sendErr := s.Send(&greeterv1.SayHelloBidiRequest{Name: "b"})
	wantHeld(t, sendErr, methodBidi)
	waitFor(t, func() bool { return s.Context().Err() != nil && innerDone.Load() })
	for {
		_, err := s.Recv()
		if err == nil {
			continue // the reply to the first message
		}
		if !errors.Is(err, sendErr) && status.Convert(err).Message() != status.Convert(sendErr).Message() {
			t.Fatalf("Recv after the rejection: %v, want the rejection", err)
		}
		break
	}
	if err := s.Send(&greeterv1.SayHelloBidiRequest{Name: "c"}); status.Convert(err).Message() != status.Convert(sendErr).Message() {
		t.Fatalf("Send after the rejection: %v, want the rejection", err)
	}
}
