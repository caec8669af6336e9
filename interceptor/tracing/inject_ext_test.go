package tracing_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc/metadata"

	"github.com/grpckit/grpckit/interceptor/tracing"
	"github.com/grpckit/grpckit/internal/greeter"
	"github.com/grpckit/grpckit/internal/testutil"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestInjectOneValuePerKey checks that a propagator setting a key twice
// (here tracecontext composed twice) sends one value per key, the last,
// as otelgrpc does, with or without metadata the caller set, sampled or
// not: two traceparent headers make the trace context invalid for W3C.
func TestInjectOneValuePerKey(t *testing.T) {
	twice := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.TraceContext{})
	for _, sampler := range []sdktrace.Sampler{sdktrace.AlwaysSample(), sdktrace.NeverSample()} {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler))
		t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		got := testutil.NewLatest[[]string](4)
		srv := greeter.Start(t, kitresolver.Instance{ID: "s"}, greeter.Before(func(ctx context.Context) {
			md, _ := metadata.FromIncomingContext(ctx)
			got.Send(md.Get("traceparent"))
		})...)
		client := greeterv1.NewGreeterClient(dial(t, srv.Addr, tracing.WithTracerProvider(tp), tracing.WithPropagators(twice)))
		ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
		defer cancel()
		parent, span := tp.Tracer("test").Start(ctx, "parent")
		for _, callCtx := range []context.Context{parent, metadata.AppendToOutgoingContext(parent, "other", "x")} {
			if _, err := client.SayHello(callCtx, &greeterv1.SayHelloRequest{Name: "ann"}); err != nil {
				t.Fatal(err)
			}
			v, err := got.Receive(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(v) != 1 {
				t.Errorf("server got traceparent %q, want one value", v)
			}
		}
		span.End()
	}
}
