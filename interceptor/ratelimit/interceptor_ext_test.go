package ratelimit_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/interceptor/ratelimit"
	"github.com/grpckit/grpckit/internal/greeter"
	"github.com/grpckit/grpckit/internal/testutil"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	methodUnary   = "/greeter.v1.Greeter/SayHello"
	methodServer  = "/greeter.v1.Greeter/SayHelloStream"
	methodClient  = "/greeter.v1.Greeter/SayHelloClientStream"
	methodBidi    = "/greeter.v1.Greeter/SayHelloBidi"
	pushbackOneS  = "1000"
	trailerHeader = ratelimit.PushbackTrailer
)

// arrivals counts the calls that reach the server, before any limiter.
type arrivals struct{ n atomic.Int64 }

func (a *arrivals) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	a.n.Add(1)
	return h(ctx, req)
}

func (a *arrivals) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	a.n.Add(1)
	return h(srv, ss)
}

// serve starts a greeter behind the rate-limit server interceptors.
func serve(t *testing.T, l ratelimit.Limiter, opts ...ratelimit.Option) (*greeter.Running, *arrivals) {
	t.Helper()
	a := &arrivals{}
	r := greeter.Start(t, kitresolver.Instance{},
		grpc.ChainUnaryInterceptor(a.unary, ratelimit.UnaryServerInterceptor(l, opts...)),
		grpc.ChainStreamInterceptor(a.stream, ratelimit.StreamServerInterceptor(l, opts...)))
	return r, a
}

func dial(t *testing.T, addr string, opts ...grpc.DialOption) greeterv1.GreeterClient {
	t.Helper()
	opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return greeterv1.NewGreeterClient(cc)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	t.Cleanup(cancel)
	return ctx
}

// rpc makes one call of a kind and returns its error and trailer.
type rpc func(ctx context.Context, c greeterv1.GreeterClient) (metadata.MD, error)

func callUnary(ctx context.Context, c greeterv1.GreeterClient) (metadata.MD, error) {
	var tr metadata.MD
	_, err := c.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "u"}, grpc.Trailer(&tr))
	return tr, err
}

func callServerStream(ctx context.Context, c greeterv1.GreeterClient) (metadata.MD, error) {
	s, err := c.SayHelloStream(ctx, &greeterv1.SayHelloStreamRequest{Name: "s", Count: 2})
	if err != nil {
		return nil, err
	}
	for {
		if _, err := s.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return s.Trailer(), err
		}
	}
}

func callClientStream(ctx context.Context, c greeterv1.GreeterClient) (metadata.MD, error) {
	s, err := c.SayHelloClientStream(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range []string{"a", "b"} {
		if err := s.Send(&greeterv1.SayHelloClientStreamRequest{Name: n}); err != nil {
			break // the status comes with CloseAndRecv
		}
	}
	_, err = s.CloseAndRecv()
	return s.Trailer(), err
}

func callBidi(ctx context.Context, c greeterv1.GreeterClient) (metadata.MD, error) {
	s, err := c.SayHelloBidi(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.Send(&greeterv1.SayHelloBidiRequest{Name: "b"}); err == nil {
		if _, err := s.Recv(); err != nil {
			return s.Trailer(), err
		}
	}
	if err := s.CloseSend(); err != nil {
		return nil, err
	}
	for {
		if _, err := s.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return s.Trailer(), err
		}
	}
}

var kinds = []struct {
	name, method string
	call         rpc
}{
	{"unary", methodUnary, callUnary},
	{"server stream", methodServer, callServerStream},
	{"client stream", methodClient, callClientStream},
	{"bidi", methodBidi, callBidi},
}

// wantRejected fails unless err is the limiter's rejection of method.
func wantRejected(t *testing.T, err error, method string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), method) {
		t.Fatalf("error = %v; want ResourceExhausted naming %s", err, method)
	}
}

func TestServerRejectsAllKinds(t *testing.T) {
	clock := ratelimit.NewFakeClock(start)
	tb := bucketOn(t, clock, 1, 1)
	srv, _ := serve(t, tb, ratelimit.WithKey(ratelimit.KeyMethod))
	c := dial(t, srv.Addr)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			ctx := testCtx(t)
			if _, err := k.call(ctx, c); err != nil {
				t.Fatalf("first call: %v", err)
			}
			calls := srv.Calls()
			tr, err := k.call(ctx, c)
			wantRejected(t, err, k.method)
			if got := tr.Get(trailerHeader); len(got) != 1 || got[0] != pushbackOneS {
				t.Errorf("trailer %s = %q, want [%s]", trailerHeader, got, pushbackOneS)
			}
			if srv.Calls() != calls {
				t.Errorf("a rejected call reached the handler")
			}
		})
	}
	// the clock moves on: a token per method again.
	clock.Advance(time.Second)
	for _, k := range kinds {
		if _, err := k.call(testCtx(t), c); err != nil {
			t.Errorf("%s after refill: %v", k.name, err)
		}
	}
}

func TestServerWaitNeverPassesDeadline(t *testing.T) {
	tb, err := ratelimit.NewTokenBucket(2, 1) // a token every 500ms
	if err != nil {
		t.Fatal(err)
	}
	var late atomic.Int64
	checkDeadline := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if dl, ok := ctx.Deadline(); ok && time.Now().After(dl) {
			late.Add(1)
		}
		return h(ctx, req)
	}
	srv := greeter.Start(t, kitresolver.Instance{}, grpc.ChainUnaryInterceptor(
		ratelimit.UnaryServerInterceptor(tb, ratelimit.WithWait(time.Minute)), checkDeadline))
	c := dial(t, srv.Addr)

	if _, err := callUnary(testCtx(t), c); err != nil {
		t.Fatal(err)
	}
	// The next token is ~500ms away: a 200ms deadline cannot be met, so the
	// call is rejected at once rather than waiting into DeadlineExceeded.
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = callUnary(short, c)
	wantRejected(t, err, methodUnary)

	// With room to wait, calls wait for their token and still finish in time.
	began := time.Now()
	for range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := callUnary(ctx, c)
		cancel()
		if err != nil {
			t.Fatalf("call with room to wait: %v", err)
		}
	}
	if waited := time.Since(began); waited < 800*time.Millisecond {
		t.Errorf("2 calls at 2/s with burst 1 took %v; they did not wait for tokens", waited)
	}
	if n := late.Load(); n != 0 {
		t.Errorf("%d calls reached the handler past their deadline", n)
	}
}

func TestServerWaitsOnClock(t *testing.T) {
	clock := ratelimit.NewFakeClock(start)
	tb := bucketOn(t, clock, 1, 1)
	srv, _ := serve(t, tb, ratelimit.WithWait(time.Hour), ratelimit.WithClock(clock))
	c := dial(t, srv.Addr)
	if _, err := callUnary(testCtx(t), c); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := callUnary(testCtx(t), c)
		done <- err
	}()
	waitFor(t, func() bool { return clock.Timers() == 1 })
	select {
	case err := <-done:
		t.Fatalf("call finished before its token: %v", err)
	default:
	}
	clock.Advance(time.Second)
	if err := <-done; err != nil {
		t.Fatalf("call after waiting: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testutil.DefaultTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met before the deadline")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestClientHonoursPushback(t *testing.T) {
	srvClock := ratelimit.NewFakeClock(start)
	tb := bucketOn(t, srvClock, 1, 1)
	srv, arrived := serve(t, tb)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			clock := ratelimit.NewFakeClock(start)
			c := dial(t, srv.Addr,
				grpc.WithUnaryInterceptor(ratelimit.UnaryClientInterceptor(ratelimit.Unlimited, ratelimit.WithClock(clock))),
				grpc.WithStreamInterceptor(ratelimit.StreamClientInterceptor(ratelimit.Unlimited, ratelimit.WithClock(clock))))
			ctx := testCtx(t)
			srvClock.Advance(time.Second) // one token on the server
			if _, err := k.call(ctx, c); err != nil {
				t.Fatalf("first call: %v", err)
			}
			_, err := k.call(ctx, c)
			wantRejected(t, err, k.method) // by the server, pushback 1s
			n := arrived.n.Load()
			_, err = k.call(ctx, c)
			wantRejected(t, err, k.method) // held by the client
			if got := arrived.n.Load(); got != n {
				t.Fatalf("a call held by pushback reached the server")
			}
			clock.Advance(time.Second)
			srvClock.Advance(time.Second)
			if _, err := k.call(ctx, c); err != nil {
				t.Fatalf("call after the pushback: %v", err)
			}
			if got := arrived.n.Load(); got != n+1 {
				t.Fatalf("the call after the pushback did not reach the server")
			}
		})
	}
}

func TestClientLimiter(t *testing.T) {
	clock := ratelimit.NewFakeClock(start)
	tb := bucketOn(t, clock, 1, 2)
	srv := greeter.Start(t, kitresolver.Instance{})
	c := dial(t, srv.Addr,
		grpc.WithUnaryInterceptor(ratelimit.UnaryClientInterceptor(tb)),
		grpc.WithStreamInterceptor(ratelimit.StreamClientInterceptor(tb)))
	ctx := testCtx(t)
	for _, call := range []rpc{callUnary, callBidi} {
		if _, err := call(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range kinds {
		_, err := k.call(ctx, c)
		wantRejected(t, err, k.method)
	}
	if n := srv.Calls(); n != 2 {
		t.Errorf("server saw %d calls, want 2", n)
	}
}

func TestPerMessageLimit(t *testing.T) {
	clock := ratelimit.NewFakeClock(start)
	perMsg := bucketOn(t, clock, 1, 2)
	lim, err := ratelimit.NewTokenBucket(rate.Inf, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := serve(t, lim, ratelimit.WithPerMessage(perMsg))
	c := dial(t, srv.Addr)
	s, err := c.SayHelloBidi(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	var replies int
	for range 3 {
		if err := s.Send(&greeterv1.SayHelloBidiRequest{Name: "m"}); err != nil {
			t.Fatalf("send: %v", err) // the server only fails the stream after reading
		}
		if _, err = s.Recv(); err != nil {
			wantRejected(t, err, methodBidi)
			break
		}
		replies++
	}
	if replies != 2 || err == nil {
		t.Errorf("got %d replies and error %v; want 2 and a rejection of the third message", replies, err)
	}
}

func TestClientPerMessageLimit(t *testing.T) {
	clock := ratelimit.NewFakeClock(start)
	perMsg := bucketOn(t, clock, 1, 1)
	srv := greeter.Start(t, kitresolver.Instance{})
	c := dial(t, srv.Addr, grpc.WithStreamInterceptor(
		ratelimit.StreamClientInterceptor(ratelimit.Unlimited, ratelimit.WithPerMessage(perMsg))))
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	s, err := c.SayHelloClientStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&greeterv1.SayHelloClientStreamRequest{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	wantRejected(t, s.Send(&greeterv1.SayHelloClientStreamRequest{Name: "b"}), methodClient)
}

func TestClientWaitsOutPushback(t *testing.T) {
	srvClock := ratelimit.NewFakeClock(start)
	tb := bucketOn(t, srvClock, 1, 1)
	srv, arrived := serve(t, tb)
	clock := ratelimit.NewFakeClock(start)
	c := dial(t, srv.Addr, grpc.WithUnaryInterceptor(
		ratelimit.UnaryClientInterceptor(ratelimit.Unlimited, ratelimit.WithWait(time.Hour), ratelimit.WithClock(clock))))
	ctx := testCtx(t)
	if _, err := callUnary(ctx, c); err != nil {
		t.Fatal(err)
	}
	_, err := callUnary(ctx, c)
	wantRejected(t, err, methodUnary) // by the server, pushback 1s
	n := arrived.n.Load()

	done := make(chan error, 1)
	go func() {
		_, err := callUnary(ctx, c)
		done <- err
	}()
	waitFor(t, func() bool { return clock.Timers() == 1 }) // held by the client
	if got := arrived.n.Load(); got != n {
		t.Fatal("a call held by pushback reached the server")
	}
	srvClock.Advance(time.Second)
	clock.Advance(time.Second)
	if err := <-done; err != nil {
		t.Fatalf("call after the pushback: %v", err)
	}
	if got := arrived.n.Load(); got != n+1 {
		t.Fatal("the held call did not reach the server")
	}
}

// TestClientPushbackBesideCallerOptions checks that a unary call that brings
// its own CallOptions gets its trailer and still has its pushback honoured.
func TestClientPushbackBesideCallerOptions(t *testing.T) {
	srvClock := ratelimit.NewFakeClock(start)
	tb := bucketOn(t, srvClock, 1, 1)
	srv, arrived := serve(t, tb)
	clock := ratelimit.NewFakeClock(start)
	c := dial(t, srv.Addr, grpc.WithUnaryInterceptor(ratelimit.UnaryClientInterceptor(ratelimit.Unlimited, ratelimit.WithClock(clock))))
	ctx := testCtx(t)
	srvClock.Advance(time.Second)
	req := &greeterv1.SayHelloRequest{Name: "u"}
	if _, err := c.SayHello(ctx, req); err != nil {
		t.Fatalf("first call: %v", err)
	}
	var tr metadata.MD
	_, err := c.SayHello(ctx, req, grpc.Trailer(&tr))
	wantRejected(t, err, "/greeter.v1.Greeter/SayHello")
	if got := tr.Get(ratelimit.PushbackTrailer); len(got) != 1 {
		t.Fatalf("caller's trailer %s = %q, want one value", ratelimit.PushbackTrailer, got)
	}
	n := arrived.n.Load()
	_, err = c.SayHello(ctx, req, grpc.WaitForReady(false))
	wantRejected(t, err, "/greeter.v1.Greeter/SayHello")
	if arrived.n.Load() != n {
		t.Fatal("a call held by pushback reached the server")
	}
}

// TestWrapUnaryClient checks that the wrapped interceptor sees exactly the
// calls the limiter admits, with the caller's options.
func TestWrapUnaryClient(t *testing.T) {
	clock := ratelimit.NewFakeClock(start)
	tb := bucketOn(t, clock, 1, 1)
	var inner atomic.Int64
	var sawHeaderOpt atomic.Bool
	count := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		inner.Add(1)
		for _, o := range opts {
			if _, ok := o.(grpc.HeaderCallOption); ok {
				sawHeaderOpt.Store(true)
			}
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	srv := greeter.Start(t, kitresolver.Instance{})
	c := dial(t, srv.Addr, grpc.WithUnaryInterceptor(ratelimit.WrapUnaryClient(tb, count, ratelimit.WithClock(clock))))
	ctx := testCtx(t)
	var hdr metadata.MD
	if _, err := c.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "u"}, grpc.Header(&hdr)); err != nil {
		t.Fatalf("first call: %v", err)
	}
	if inner.Load() != 1 || !sawHeaderOpt.Load() {
		t.Fatalf("inner ran %d times, saw the caller's option: %v; want 1, true", inner.Load(), sawHeaderOpt.Load())
	}
	_, err := c.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "u"})
	wantRejected(t, err, "/greeter.v1.Greeter/SayHello")
	if inner.Load() != 1 {
		t.Fatal("a call the limiter rejected reached the wrapped interceptor")
	}
}

// bucketOn returns a token bucket of rate r and burst b on clock.
func bucketOn(t *testing.T, clock *ratelimit.FakeClock, r rate.Limit, b int) *ratelimit.TokenBucket {
	t.Helper()
	tb, err := ratelimit.NewTokenBucket(r, b, ratelimit.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	return tb
}
