package stack_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/grpckit/grpckit/interceptor/stack"
	"github.com/grpckit/grpckit/interceptor/tracing"
	"github.com/grpckit/grpckit/internal/greeter"
	"github.com/grpckit/grpckit/internal/testutil"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// rpc is one of the greeter's four kinds of call, run to its end: call
// returns the status the call finished with.
type rpc struct {
	kind   string
	method string
	call   func(ctx context.Context, c greeterv1.GreeterClient) error
}

var rpcs = []rpc{
	{"unary", "/greeter.v1.Greeter/SayHello", func(ctx context.Context, c greeterv1.GreeterClient) error {
		_, err := c.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "a"})
		return err
	}},
	{"server stream", "/greeter.v1.Greeter/SayHelloStream", func(ctx context.Context, c greeterv1.GreeterClient) error {
		s, err := c.SayHelloStream(ctx, &greeterv1.SayHelloStreamRequest{Name: "a", Count: 2})
		if err != nil {
			return err
		}
		return drain(s.Recv)
	}},
	{"client stream", "/greeter.v1.Greeter/SayHelloClientStream", func(ctx context.Context, c greeterv1.GreeterClient) error {
		s, err := c.SayHelloClientStream(ctx)
		if err != nil {
			return err
		}
		// io.EOF: the stream has ended; CloseAndRecv says how.
		if err := s.Send(&greeterv1.SayHelloClientStreamRequest{Name: "a"}); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		_, err = s.CloseAndRecv()
		return err
	}},
	{"bidi", "/greeter.v1.Greeter/SayHelloBidi", func(ctx context.Context, c greeterv1.GreeterClient) error {
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
		return drain(s.Recv)
	}},
}

// drain receives until the stream ends, returning nil for a clean end.
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

// panicKey in a call's metadata makes the call panic where the handler runs.
const panicKey = "x-test-panic"

func maybePanic(ctx context.Context) {
	if md, _ := metadata.FromIncomingContext(ctx); len(md.Get(panicKey)) > 0 {
		panic("handler panic")
	}
}

// serve starts a greeter with stack.Server's options on loopback. The
// interceptors it chains after those options run inside the stack, as the
// handler does, and panic on a call that carries panicKey.
func serve(t *testing.T, opts ...stack.ServerOption) *greeter.Running {
	t.Helper()
	sopts, err := stack.Server(opts...)
	if err != nil {
		t.Fatalf("stack.Server: %v", err)
	}
	return greeter.Start(t, kitresolver.Instance{ID: "b"}, append(sopts, greeter.Before(maybePanic)...)...)
}

// dial connects to addr with stack.Client's options and extra.
func dial(t *testing.T, addr string, opts []stack.ClientOption, extra ...grpc.DialOption) greeterv1.GreeterClient {
	t.Helper()
	copts, err := stack.Client(opts...)
	if err != nil {
		t.Fatalf("stack.Client: %v", err)
	}
	copts = append(copts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	cc, err := grpc.NewClient(addr, append(copts, extra...)...)
	if err != nil {
		t.Fatalf("grpc.NewClient(%s): %v", addr, err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return greeterv1.NewGreeterClient(cc)
}

// fromHost makes a connection's local address host, another loopback
// address, so the server sees another peer.
func fromHost(host string) grpc.DialOption {
	return grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(host)}}
		return d.DialContext(ctx, "tcp", addr)
	})
}

var w3c = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// recording returns a tracer provider that records into rec, shut down when
// the test ends.
func recording(t *testing.T, rec *tracetest.SpanRecorder) *sdktrace.TracerProvider {
	t.Helper()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
		defer cancel()
		_ = tp.Shutdown(ctx)
	})
	return tp
}

// traced returns a span recorder and the option that traces into it.
func traced(t *testing.T) (*tracetest.SpanRecorder, stack.Option) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := recording(t, rec)
	return rec, stack.WithTracing(tracing.WithTracerProvider(tp), tracing.WithPropagators(w3c))
}

// tracedGlobally makes the global tracer provider, which tracing uses by
// default, record into rec, and the global propagator W3C's, until the test
// ends. Tests using it must not run in parallel.
func tracedGlobally(t *testing.T, rec *tracetest.SpanRecorder) {
	t.Helper()
	tp := recording(t, rec)
	oldTP, oldProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(w3c)
	t.Cleanup(func() {
		otel.SetTracerProvider(oldTP)
		otel.SetTextMapPropagator(oldProp)
	})
}

// spanName is the name otelgrpc gives the span of method.
func spanName(method string) string { return strings.TrimPrefix(method, "/") }

// started counts the spans of kind for method that have started. A server
// span starts before the server answers, so once a call has returned it is
// there if the call reached the server.
func started(rec *tracetest.SpanRecorder, kind trace.SpanKind, method string) int {
	n := 0
	for _, s := range rec.Started() {
		if s.SpanKind() == kind && s.Name() == spanName(method) {
			n++
		}
	}
	return n
}

// waitEnded polls until n spans of kind for method have ended, and returns
// them.
func waitEnded(t *testing.T, rec *tracetest.SpanRecorder, kind trace.SpanKind, method string, n int) []sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.Now().Add(testutil.DefaultTimeout)
	for {
		var got []sdktrace.ReadOnlySpan
		for _, s := range rec.Ended() {
			if s.SpanKind() == kind && s.Name() == spanName(method) {
				got = append(got, s)
			}
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s spans of %s ended before the deadline, want %d", len(got), kind, method, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) string {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value.String()
		}
	}
	return ""
}

// events lists the span's events as "name key=value ..." for the keys given.
func events(s sdktrace.ReadOnlySpan, keys ...attribute.Key) []string {
	var out []string
	for _, e := range s.Events() {
		line := e.Name
		for _, k := range keys {
			for _, kv := range e.Attributes {
				if kv.Key == k {
					line += " " + string(k) + "=" + kv.Value.String()
				}
			}
		}
		out = append(out, line)
	}
	return out
}
