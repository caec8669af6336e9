package shedding

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/interceptor/ratelimit"
	"github.com/grpckit/grpckit/internal/greeter"
	"github.com/grpckit/grpckit/internal/testutil"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// rpc is one of the greeter's four kinds of call, run to its end; trailer
// is the call's trailer once it has ended.
type rpc struct {
	kind   string
	method string
	call   func(ctx context.Context, c greeterv1.GreeterClient, trailer *metadata.MD) error
}

var rpcs = []rpc{
	{"unary", "/greeter.v1.Greeter/SayHello", func(ctx context.Context, c greeterv1.GreeterClient, tr *metadata.MD) error {
		_, err := c.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "a"}, grpc.Trailer(tr))
		return err
	}},
	{"server stream", "/greeter.v1.Greeter/SayHelloStream", func(ctx context.Context, c greeterv1.GreeterClient, tr *metadata.MD) error {
		s, err := c.SayHelloStream(ctx, &greeterv1.SayHelloStreamRequest{Name: "a", Count: 2})
		if err != nil {
			return err
		}
		err = drain(s.Recv)
		*tr = s.Trailer()
		return err
	}},
	{"client stream", "/greeter.v1.Greeter/SayHelloClientStream", func(ctx context.Context, c greeterv1.GreeterClient, tr *metadata.MD) error {
		s, err := c.SayHelloClientStream(ctx)
		if err != nil {
			return err
		}
		if err := s.Send(&greeterv1.SayHelloClientStreamRequest{Name: "a"}); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		_, err = s.CloseAndRecv()
		*tr = s.Trailer()
		return err
	}},
	{"bidi", "/greeter.v1.Greeter/SayHelloBidi", func(ctx context.Context, c greeterv1.GreeterClient, tr *metadata.MD) error {
		s, err := c.SayHelloBidi(ctx)
		if err != nil {
			return err
		}
		if err := s.Send(&greeterv1.SayHelloBidiRequest{Name: "a"}); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if err := s.CloseSend(); err != nil {
			return err
		}
		err = drain(s.Recv)
		*tr = s.Trailer()
		return err
	}},
}

func drain[T any](recv func() (T, error)) error {
	for {
		if _, err := recv(); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
	}
}

func timeout(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	t.Cleanup(cancel)
	return ctx
}

// serve starts a greeter with grpc.health.v1 behind l and returns a
// connected client.
func serve(t *testing.T, l *Limiter) (greeterv1.GreeterClient, *grpc.ClientConn) {
	t.Helper()
	r := greeter.Start(t, kitresolver.Instance{ID: "s"},
		grpc.ChainUnaryInterceptor(UnaryServerInterceptor(l)), grpc.ChainStreamInterceptor(StreamServerInterceptor(l)))
	cc, err := grpc.NewClient(r.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return greeterv1.NewGreeterClient(cc), cc
}

// saturate makes l shed every call: overloaded, with the frozen clock's
// schedule taken up beyond even a critical call's tolerance.
func saturate(t *testing.T, l *Limiter, c *fakeClock, p *fakeProbe) {
	t.Helper()
	overload(l, c, p)
	for i := 0; l.admit(c.now(), Critical); i++ {
		if i > 1e6 {
			t.Fatal("the limiter never stops admitting")
		}
	}
}

func TestInterceptorsAdmitEveryKind(t *testing.T) {
	l := New()
	c, _ := serve(t, l)
	for _, r := range rpcs {
		var tr metadata.MD
		if err := r.call(timeout(t), c, &tr); err != nil {
			t.Errorf("%s: %v", r.kind, err)
		}
	}
	waitInFlight(t, l, 0)
}

func TestInterceptorsShedEveryKind(t *testing.T) {
	l, clock, probe := newFake()
	c, cc := serve(t, l)
	saturate(t, l, clock, probe)
	for _, r := range rpcs {
		var tr metadata.MD
		err := r.call(timeout(t), c, &tr)
		if status.Code(err) != codes.ResourceExhausted || !strings.Contains(status.Convert(err).Message(), r.method) {
			t.Errorf("%s: %v, want ResourceExhausted naming %s", r.kind, err, r.method)
		}
		if v := tr.Get(ratelimit.PushbackTrailer); len(v) != 1 || v[0] == "0" {
			t.Errorf("%s: pushback trailer %q, want one value of at least 1 ms", r.kind, v)
		}
	}
	// Health checks are never shed.
	if _, err := healthpb.NewHealthClient(cc).Check(timeout(t), &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health check while shedding: %v", err)
	}
	if n := l.Stats().InFlight; n != 0 {
		t.Errorf("%d in flight after shed calls only, want 0", n)
	}
}

// TestInterceptorsCriticalityHeader: while sheddable calls are shed, a
// critical one, by header or by context value, still gets through.
func TestInterceptorsCriticalityHeader(t *testing.T) {
	l, clock, probe := newFake()
	c, _ := serve(t, l)
	overload(l, clock, probe)
	for l.admit(clock.now(), Default) {
	}
	call := func(crit string) error {
		ctx := metadata.AppendToOutgoingContext(timeout(t), CriticalityHeader, crit)
		_, err := c.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "a"})
		return err
	}
	if err := call("sheddable"); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("sheddable call: %v, want ResourceExhausted", err)
	}
	if err := call("Critical"); err != nil {
		t.Errorf("critical call: %v, want it admitted", err)
	}
}

func TestCriticalityFrom(t *testing.T) {
	in := func(vals ...string) context.Context {
		md := metadata.MD{}
		for _, v := range vals {
			md.Append(CriticalityHeader, v)
		}
		return metadata.NewIncomingContext(context.Background(), md)
	}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want Criticality
	}{
		{"none", context.Background(), Default},
		{"critical", in("critical"), Critical},
		{"case and space", in(" SHEDDABLE "), Sheddable},
		{"unknown", in("urgent"), Default},
		{"several", in("critical", "critical"), Default},
		{"context value wins", WithCriticality(in("critical"), Sheddable), Sheddable},
		{"context value out of range", WithCriticality(context.Background(), 100), Critical},
	} {
		if got := CriticalityFrom(tc.ctx); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestInterceptorsRace runs every kind of call from many goroutines through
// one limiter that sheds part of them, under -race: every call ends OK or
// shed, and none stays counted in flight.
func TestInterceptorsRace(t *testing.T) {
	l, clock, probe := newFake()
	c, _ := serve(t, l)
	stop := make(chan struct{})
	var ticker, wg sync.WaitGroup
	ticker.Go(func() { // moves the clock and switches overload on and off
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			probe.set(time.Duration(i%40/20) * time.Second)
			clock.advance(10 * time.Millisecond)
		}
	})
	var failed sync.Once
	for g := range 8 {
		wg.Go(func() {
			for i := range 40 {
				r := rpcs[(g+i)%len(rpcs)]
				var tr metadata.MD
				if err := r.call(timeout(t), c, &tr); err != nil && status.Code(err) != codes.ResourceExhausted {
					failed.Do(func() { t.Errorf("%s: %v", r.kind, err) })
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	ticker.Wait()
	waitInFlight(t, l, 0)
}

// waitInFlight polls until l counts n calls in flight or the test's
// deadline passes.
func waitInFlight(t *testing.T, l *Limiter, n int64) {
	t.Helper()
	ctx := timeout(t)
	for l.Stats().InFlight != n {
		select {
		case <-ctx.Done():
			t.Fatalf("%d calls in flight, want %d", l.Stats().InFlight, n)
		case <-time.After(time.Millisecond):
		}
	}
}

// TestWrap: the wrapped interceptor runs inside the limiter for admitted
// calls only, for unary calls and streams.
func TestWrap(t *testing.T) {
	var unary, stream atomic.Int64
	l, clock, probe := newFake()
	r := greeter.Start(t, kitresolver.Instance{ID: "w"},
		grpc.ChainUnaryInterceptor(WrapUnary(l, func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			unary.Add(1)
			return h(ctx, req)
		})),
		grpc.ChainStreamInterceptor(WrapStream(l, func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			stream.Add(1)
			return h(srv, ss)
		})))
	cc, err := grpc.NewClient(r.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	c := greeterv1.NewGreeterClient(cc)
	var tr metadata.MD
	for _, r := range rpcs {
		if err := r.call(timeout(t), c, &tr); err != nil {
			t.Fatalf("%s: %v", r.kind, err)
		}
	}
	saturate(t, l, clock, probe)
	for _, r := range rpcs {
		if err := r.call(timeout(t), c, &tr); status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("%s while saturated: %v, want ResourceExhausted", r.kind, err)
		}
	}
	if unary.Load() != 1 || stream.Load() != 3 {
		t.Fatalf("inner ran for %d unary calls and %d streams, want 1 and 3 (the admitted ones)", unary.Load(), stream.Load())
	}
}

// TestExpiredCallsTakeNoTurn: while the limiter sheds, a call whose context
// has ended is refused and leaves the schedule to the next call.
func TestExpiredCallsTakeNoTurn(t *testing.T) {
	l, clock, probe := newFake()
	overload(l, clock, probe)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	tat := l.tat.Load()
	if l.allow(ended, clock.now()) {
		t.Fatal("a call whose context ended was admitted while shedding")
	}
	if got := l.tat.Load(); got != tat {
		t.Fatalf("the refused call moved the schedule from %d to %d", tat, got)
	}
	if !l.allow(context.Background(), clock.now()) {
		t.Fatal("the next call was shed")
	}
}
