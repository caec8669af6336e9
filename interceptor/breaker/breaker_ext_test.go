package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
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
	"github.com/grpckit/grpckit/internal/testutil"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

const service = "/greeter.v1.Greeter/"

func newGroup(t *testing.T, opts ...breaker.Option) *breaker.Group {
	t.Helper()
	g, err := breaker.New(opts...)
	if err != nil {
		t.Fatalf("breaker.New: %v", err)
	}
	return g
}

// dial connects to addr through g's interceptors.
func dial(t *testing.T, addr string, g *breaker.Group) (*grpc.ClientConn, greeterv1.GreeterClient) {
	t.Helper()
	cc, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(g.UnaryClientInterceptor()),
		grpc.WithChainStreamInterceptor(g.StreamClientInterceptor()),
	)
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc, greeterv1.NewGreeterClient(cc)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	t.Cleanup(cancel)
	return ctx
}

// rpcKind runs one complete RPC of a kind and returns how it ended.
type rpcKind struct {
	method string
	call   func(ctx context.Context, c greeterv1.GreeterClient) error
}

var kinds = []rpcKind{
	{"SayHello", func(ctx context.Context, c greeterv1.GreeterClient) error {
		_, err := c.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "unary"})
		return err
	}},
	{"SayHelloStream", func(ctx context.Context, c greeterv1.GreeterClient) error {
		s, err := c.SayHelloStream(ctx, &greeterv1.SayHelloStreamRequest{Name: "server", Count: 3})
		if err != nil {
			return err
		}
		return drain(s.Recv)
	}},
	{"SayHelloClientStream", func(ctx context.Context, c greeterv1.GreeterClient) error {
		s, err := c.SayHelloClientStream(ctx)
		if err != nil {
			return err
		}
		for _, n := range []string{"a", "b"} {
			if err := s.Send(&greeterv1.SayHelloClientStreamRequest{Name: n}); err != nil {
				break // the status comes from CloseAndRecv
			}
		}
		_, err = s.CloseAndRecv()
		return err
	}},
	{"SayHelloBidi", func(ctx context.Context, c greeterv1.GreeterClient) error {
		s, err := c.SayHelloBidi(ctx)
		if err != nil {
			return err
		}
		if err := s.Send(&greeterv1.SayHelloBidiRequest{Name: "bidi"}); err == nil {
			if _, err := s.Recv(); err != nil {
				return err
			}
		}
		if err := s.CloseSend(); err != nil {
			return err
		}
		return drain(s.Recv)
	}},
}

// drain receives until the stream ends; io.EOF is a clean end.
func drain[T any](recv func() (T, error)) error {
	for {
		if _, err := recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// TestAllRPCKinds: for each RPC kind, a failing backend trips the breaker,
// and the open breaker refuses the next call with Unavailable naming the
// method, without reaching the server.
func TestAllRPCKinds(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.method, func(t *testing.T) {
			ctx := testContext(t)
			srv := greeter.Start(t, kitresolver.Instance{})
			g := newGroup(t, breaker.WithFailureRatio(0.6, 3))
			_, client := dial(t, srv.Addr, g)
			key := service + k.method

			if err := k.call(ctx, client); err != nil {
				t.Fatalf("healthy call: %v", err)
			}
			srv.SetFailure(codes.Unavailable)
			for i := 0; g.State(key) != breaker.StateOpen; i++ {
				if i == 5 {
					t.Fatalf("breaker still %v after %d failures; counts %+v", g.State(key), i, g.Counts(key))
				}
				if err := k.call(ctx, client); status.Code(err) != codes.Unavailable || strings.Contains(err.Error(), "breaker") {
					t.Fatalf("call to failing server: %v, want the server's Unavailable", err)
				}
			}
			before := srv.Calls()
			err := k.call(ctx, client)
			want := fmt.Sprintf("breaker: %s: circuit open", key)
			if status.Code(err) != codes.Unavailable || status.Convert(err).Message() != want {
				t.Errorf("call through open breaker: %v, want Unavailable %q", err, want)
			}
			if got := srv.Calls(); got != before {
				t.Errorf("server saw %d calls through an open breaker, want 0", got-before)
			}
		})
	}
}

// midStream fails streams after they have carried messages.
type midStream struct{ *greeter.Server }

func (m midStream) SayHelloStream(req *greeterv1.SayHelloStreamRequest, s grpc.ServerStreamingServer[greeterv1.SayHelloStreamResponse]) error {
	for i := range uint32(2) {
		if err := s.Send(&greeterv1.SayHelloStreamResponse{Index: i}); err != nil {
			return err
		}
	}
	return status.Error(codes.Internal, "failing mid-stream")
}

func (m midStream) SayHelloBidi(s grpc.BidiStreamingServer[greeterv1.SayHelloBidiRequest, greeterv1.SayHelloBidiResponse]) error {
	if _, err := s.Recv(); err != nil {
		return err
	}
	if err := s.Send(&greeterv1.SayHelloBidiResponse{}); err != nil {
		return err
	}
	return status.Error(codes.Unavailable, "failing mid-stream")
}

func startMidStream(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	greeterv1.RegisterGreeterServer(s, midStream{greeter.New(kitresolver.Instance{ID: "mid"})})
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

// TestMidStreamFailureCounts: a stream that fails after carrying messages
// counts as a failure when the caller sees it end, not before.
func TestMidStreamFailureCounts(t *testing.T) {
	ctx := testContext(t)
	addr := startMidStream(t)
	g := newGroup(t, breaker.WithConsecutiveFailures(1))
	_, client := dial(t, addr, g)

	s, err := client.SayHelloStream(ctx, &greeterv1.SayHelloStreamRequest{Count: 5})
	if err != nil {
		t.Fatal(err)
	}
	key := service + "SayHelloStream"
	for i := range 2 {
		if _, err := s.Recv(); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if got := g.State(key); got != breaker.StateClosed {
		t.Fatalf("state %v while the stream is healthy, want closed", got)
	}
	if _, err := s.Recv(); status.Code(err) != codes.Internal {
		t.Fatalf("third Recv: %v, want Internal", err)
	}
	if got := g.State(key); got != breaker.StateOpen {
		t.Errorf("state %v after a mid-stream failure, want open", got)
	}

	b, err := client.SayHelloBidi(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Send(&greeterv1.SayHelloBidiRequest{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Recv(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Recv(); status.Code(err) != codes.Unavailable {
		t.Fatalf("second bidi Recv: %v, want Unavailable", err)
	}
	if got := g.State(service + "SayHelloBidi"); got != breaker.StateOpen {
		t.Errorf("bidi state %v after a mid-stream failure, want open", got)
	}
}

// waitFor polls cond until it holds or the test context ends.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// TestCancellationDoesNotCount cancels unary calls and streams of every
// kind mid-flight, including streams the caller abandons without reading:
// none counts, and the breaker stays closed.
func TestCancellationDoesNotCount(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.method, func(t *testing.T) {
			ctx := testContext(t)
			srv := greeter.Start(t, kitresolver.Instance{})
			srv.SetDelay(time.Hour) // every call hangs until cancelled
			g := newGroup(t, breaker.WithConsecutiveFailures(1))
			_, client := dial(t, srv.Addr, g)
			key := service + k.method

			const n = 3
			for i := range n {
				callCtx, cancel := context.WithCancel(ctx)
				errc := make(chan error, 1)
				go func() { errc <- k.call(callCtx, client) }()
				waitFor(ctx, t, "the server to see the call", func() bool { return srv.Calls() > int64(i) })
				cancel()
				if err := <-errc; status.Code(err) != codes.Canceled {
					t.Fatalf("cancelled call: %v, want Canceled", err)
				}
			}
			waitFor(ctx, t, "the cancellations to be recorded", func() bool { return g.Counts(key).TotalExclusions == n })
			if c := g.Counts(key); c.TotalFailures != 0 || c.TotalSuccesses != 0 {
				t.Errorf("counts %+v, want only exclusions", c)
			}
			if got := g.State(key); got != breaker.StateClosed {
				t.Errorf("state %v, want closed", got)
			}
		})
	}
}

// TestAbandonedStreamFreesProbe: a half-open probe stream that the caller
// abandons (never reads, then cancels) frees its slot for the next call.
func TestAbandonedStreamFreesProbe(t *testing.T) {
	ctx := testContext(t)
	srv := greeter.Start(t, kitresolver.Instance{})
	g := newGroup(t, breaker.WithConsecutiveFailures(1), breaker.WithMaxRequests(1), breaker.WithOpenTimeout(50*time.Millisecond))
	_, client := dial(t, srv.Addr, g)
	key := service + "SayHelloStream"

	srv.SetFailure(codes.Unavailable)
	if err := kinds[1].call(ctx, client); status.Code(err) != codes.Unavailable {
		t.Fatalf("failing call: %v", err)
	}
	srv.SetFailure(codes.OK)
	waitFor(ctx, t, "half-open", func() bool { return g.State(key) == breaker.StateHalfOpen })

	streamCtx, cancel := context.WithCancel(ctx)
	if _, err := client.SayHelloStream(streamCtx, &greeterv1.SayHelloStreamRequest{Count: 1}); err != nil {
		t.Fatalf("probe stream: %v", err)
	}
	if err := kinds[1].call(ctx, client); !strings.Contains(fmt.Sprint(err), "probe limit") {
		t.Fatalf("second call while the probe is open: %v, want refused at the probe limit", err)
	}
	cancel() // abandon the probe
	waitFor(ctx, t, "the abandoned probe to be released", func() bool { return g.Counts(key).TotalExclusions == 1 })
	if err := kinds[1].call(ctx, client); err != nil {
		t.Fatalf("call after the probe was abandoned: %v", err)
	}
	if got := g.State(key); got != breaker.StateClosed {
		t.Errorf("state %v, want closed", got)
	}
}

// TestCallerDeadlineCounts: a backend too slow for the caller's deadline is
// a failure.
func TestCallerDeadlineCounts(t *testing.T) {
	ctx := testContext(t)
	srv := greeter.Start(t, kitresolver.Instance{})
	srv.SetDelay(time.Hour)
	g := newGroup(t, breaker.WithConsecutiveFailures(1))
	cc, client := dial(t, srv.Addr, g)
	// Connected first: a deadline that passes while connecting is not
	// counted (the call never reached the backend).
	cc.Connect()
	waitFor(ctx, t, "a connection", func() bool { return cc.GetState() == connectivity.Ready })

	callCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := client.SayHello(callCtx, &greeterv1.SayHelloRequest{}); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("slow call: %v, want DeadlineExceeded", err)
	}
	if got := g.State(service + "SayHello"); got != breaker.StateOpen {
		t.Errorf("state %v, want open", got)
	}
}

// TestByTarget: keyed by target, unary failures open the breaker for
// streams on the same connection too.
func TestByTarget(t *testing.T) {
	ctx := testContext(t)
	srv := greeter.Start(t, kitresolver.Instance{})
	srv.SetFailure(codes.Internal)
	g := newGroup(t, breaker.WithKey(breaker.ByTarget), breaker.WithConsecutiveFailures(2))
	cc, client := dial(t, srv.Addr, g)

	for range 2 {
		if _, err := client.SayHello(ctx, &greeterv1.SayHelloRequest{}); status.Code(err) != codes.Internal {
			t.Fatalf("failing call: %v", err)
		}
	}
	if got := g.State(cc.Target()); got != breaker.StateOpen {
		t.Fatalf("state of %q: %v, want open", cc.Target(), got)
	}
	_, err := client.SayHelloBidi(ctx)
	if want := "breaker: " + service + "SayHelloBidi: circuit open"; status.Convert(err).Message() != want {
		t.Errorf("bidi through the open target breaker: %v, want %q", err, want)
	}
}

// TestPackageInterceptors uses the package-level constructors.
func TestPackageInterceptors(t *testing.T) {
	ctx := testContext(t)
	srv := greeter.Start(t, kitresolver.Instance{})
	srv.SetFailure(codes.Unavailable)
	cc, err := grpc.NewClient(srv.Addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(breaker.UnaryClientInterceptor(breaker.WithConsecutiveFailures(1))),
		grpc.WithStreamInterceptor(breaker.StreamClientInterceptor(breaker.WithConsecutiveFailures(1))),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := greeterv1.NewGreeterClient(cc)
	for _, k := range kinds {
		if err := k.call(ctx, client); strings.Contains(fmt.Sprint(err), "breaker") {
			t.Fatalf("%s: first call refused: %v", k.method, err)
		}
		if err := k.call(ctx, client); !strings.Contains(fmt.Sprint(err), "circuit open") {
			t.Errorf("%s: second call: %v, want refused by the breaker", k.method, err)
		}
	}
}
