package tracing_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/grpckit/grpckit/interceptor/tracing"
	"github.com/grpckit/grpckit/internal/greeter"
	"github.com/grpckit/grpckit/internal/testutil"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

var w3c = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// paths are the two ways of tracing: the default interceptors and the
// stats handler.
var paths = []struct {
	name string
	opts []tracing.Option
}{
	{"interceptors", nil},
	{"stats handler", []tracing.Option{tracing.WithStatsHandler()}},
}

// seen is what a server handler found in its context.
type seen struct {
	sc      trace.SpanContext
	baggage string
}

// capture returns server options that record what each handler's context
// carries; they go after tracing's, whose interceptors must run first.
func capture(into *testutil.Latest[seen]) []grpc.ServerOption {
	return greeter.Before(func(ctx context.Context) {
		into.Send(seen{trace.SpanContextFromContext(ctx), baggage.FromContext(ctx).String()})
	})
}

// hop is client → relay → backend, every part traced with one provider.
type hop struct {
	rec     *tracetest.SpanRecorder
	tp      *sdktrace.TracerProvider
	client  greeterv1.GreeterClient
	backend *greeter.Running
	relay   string                 // the relay's address
	atRelay *testutil.Latest[seen] // what the relay's handlers saw
	atEnd   *testutil.Latest[seen] // what the backend's handlers saw
}

func newHop(t *testing.T, sampler sdktrace.Sampler, opts ...tracing.Option) *hop {
	t.Helper()
	h := &hop{rec: tracetest.NewSpanRecorder(), atRelay: testutil.NewLatest[seen](16), atEnd: testutil.NewLatest[seen](16)}
	h.tp = sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler), sdktrace.WithSpanProcessor(h.rec))
	t.Cleanup(func() { _ = h.tp.Shutdown(context.Background()) })
	opts = append([]tracing.Option{tracing.WithTracerProvider(h.tp), tracing.WithPropagators(w3c)}, opts...)
	h.backend = greeter.Start(t, kitresolver.Instance{ID: "end"}, append(tracing.ServerOptions(opts...), capture(h.atEnd)...)...)
	next := greeterv1.NewGreeterClient(dial(t, h.backend.Addr, opts...))
	h.relay = serveRelay(t, next, append(tracing.ServerOptions(opts...), capture(h.atRelay)...)...)
	h.client = greeterv1.NewGreeterClient(dial(t, h.relay, opts...))
	return h
}

func dial(t testing.TB, addr string, opts ...tracing.Option) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, append(tracing.DialOptions(opts...), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatalf("grpc.NewClient(%s): %v", addr, err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// waitEnded polls until the recorder holds n ended spans.
func waitEnded(t *testing.T, rec *tracetest.SpanRecorder, n int) []sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.Now().Add(testutil.DefaultTimeout)
	for {
		spans := rec.Ended()
		if len(spans) >= n {
			return spans
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d spans ended before the deadline, want %d: %v", len(spans), n, names(spans))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.SpanKind().String()+" "+s.Name())
	}
	return out
}

// relay serves the greeter by calling next with the handler's context, so a
// trace goes client → relay → next for all four RPC kinds.
type relay struct {
	greeterv1.UnimplementedGreeterServer
	next greeterv1.GreeterClient
}

func serveRelay(t *testing.T, next greeterv1.GreeterClient, opts ...grpc.ServerOption) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(opts...)
	greeterv1.RegisterGreeterServer(s, &relay{next: next})
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

func (r *relay) SayHello(ctx context.Context, req *greeterv1.SayHelloRequest) (*greeterv1.SayHelloResponse, error) {
	return r.next.SayHello(ctx, req)
}

func (r *relay) SayHelloStream(req *greeterv1.SayHelloStreamRequest, up grpc.ServerStreamingServer[greeterv1.SayHelloStreamResponse]) error {
	down, err := r.next.SayHelloStream(up.Context(), req)
	if err != nil {
		return err
	}
	for {
		m, err := down.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := up.Send(m); err != nil {
			return err
		}
	}
}

func (r *relay) SayHelloClientStream(up grpc.ClientStreamingServer[greeterv1.SayHelloClientStreamRequest, greeterv1.SayHelloClientStreamResponse]) error {
	down, err := r.next.SayHelloClientStream(up.Context())
	if err != nil {
		return err
	}
	for {
		m, err := up.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if err := down.Send(m); err != nil {
			break // the status comes with CloseAndRecv
		}
	}
	resp, err := down.CloseAndRecv()
	if err != nil {
		return err
	}
	return up.SendAndClose(resp)
}

func (r *relay) SayHelloBidi(up grpc.BidiStreamingServer[greeterv1.SayHelloBidiRequest, greeterv1.SayHelloBidiResponse]) error {
	down, err := r.next.SayHelloBidi(up.Context())
	if err != nil {
		return err
	}
	for {
		m, err := up.Recv()
		if errors.Is(err, io.EOF) {
			return closeBidi(down)
		}
		if err != nil {
			return err
		}
		if err := down.Send(m); err != nil {
			_, err = down.Recv() // the stream's status
			return err
		}
		resp, err := down.Recv()
		if err != nil {
			return err
		}
		if err := up.Send(resp); err != nil {
			return err
		}
	}
}

func closeBidi(down grpc.BidiStreamingClient[greeterv1.SayHelloBidiRequest, greeterv1.SayHelloBidiResponse]) error {
	if err := down.CloseSend(); err != nil {
		return err
	}
	if _, err := down.Recv(); !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// callers runs each greeter RPC kind once, sending names and reading every
// reply.
var callers = []struct {
	kind   string
	method string
	call   func(context.Context, greeterv1.GreeterClient) error
}{
	{"unary", "greeter.v1.Greeter/SayHello", func(ctx context.Context, c greeterv1.GreeterClient) error {
		_, err := c.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "ann"})
		return err
	}},
	{"server stream", "greeter.v1.Greeter/SayHelloStream", callServerStream},
	{"client stream", "greeter.v1.Greeter/SayHelloClientStream", callClientStream},
	{"bidi", "greeter.v1.Greeter/SayHelloBidi", callBidi},
}

func callServerStream(ctx context.Context, c greeterv1.GreeterClient) error {
	s, err := c.SayHelloStream(ctx, &greeterv1.SayHelloStreamRequest{Name: "ann", Count: 3})
	if err != nil {
		return err
	}
	for {
		if _, err := s.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

func callClientStream(ctx context.Context, c greeterv1.GreeterClient) error {
	s, err := c.SayHelloClientStream(ctx)
	if err != nil {
		return err
	}
	for _, n := range []string{"ann", "bob"} {
		if err := s.Send(&greeterv1.SayHelloClientStreamRequest{Name: n}); err != nil {
			return err
		}
	}
	_, err = s.CloseAndRecv()
	return err
}

func callBidi(ctx context.Context, c greeterv1.GreeterClient) error {
	s, err := c.SayHelloBidi(ctx)
	if err != nil {
		return err
	}
	for _, n := range []string{"ann", "bob"} {
		if err := s.Send(&greeterv1.SayHelloBidiRequest{Name: n}); err != nil {
			return err
		}
		if _, err := s.Recv(); err != nil {
			return err
		}
	}
	if err := s.CloseSend(); err != nil {
		return err
	}
	if _, err := s.Recv(); !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
