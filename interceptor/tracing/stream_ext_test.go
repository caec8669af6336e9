package tracing_test

import (
	"context"
	"testing"

	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/grpckit/grpckit/interceptor/tracing"
	"github.com/grpckit/grpckit/internal/greeter"
	"github.com/grpckit/grpckit/internal/testutil"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestAbandonedStreamEndsSpan checks that the client span of a stream the
// caller stops reading ends when the caller's context is cancelled, with
// codes.Canceled, for every streaming kind.
func TestAbandonedStreamEndsSpan(t *testing.T) {
	open := map[string]func(context.Context, greeterv1.GreeterClient) error{
		"server stream": func(ctx context.Context, c greeterv1.GreeterClient) error {
			_, err := c.SayHelloStream(ctx, &greeterv1.SayHelloStreamRequest{Name: "ann", Count: 1000})
			return err
		},
		"client stream": func(ctx context.Context, c greeterv1.GreeterClient) error {
			s, err := c.SayHelloClientStream(ctx)
			if err != nil {
				return err
			}
			return s.Send(&greeterv1.SayHelloClientStreamRequest{Name: "ann"})
		},
		"bidi": func(ctx context.Context, c greeterv1.GreeterClient) error {
			s, err := c.SayHelloBidi(ctx)
			if err != nil {
				return err
			}
			return s.Send(&greeterv1.SayHelloBidiRequest{Name: "ann"})
		},
	}
	for kind, call := range open {
		t.Run(kind, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			opts := []tracing.Option{tracing.WithTracerProvider(tp), tracing.WithPropagators(w3c)}
			srv := greeter.Start(t, kitresolver.Instance{ID: "s"})
			client := greeterv1.NewGreeterClient(dial(t, srv.Addr, opts...))

			ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
			defer cancel()
			callCtx, abandon := context.WithCancel(ctx)
			if err := call(callCtx, client); err != nil {
				t.Fatal(err)
			}
			if n := len(rec.Ended()); n != 0 {
				t.Fatalf("%d spans ended while the stream is open", n)
			}
			abandon()
			span := waitEnded(t, rec, 1)[0]
			if span.SpanKind() != trace.SpanKindClient || span.Status().Code != otelcodes.Error || attr(span, "rpc.response.status_code") != "CANCELLED" {
				t.Errorf("abandoned stream's span: %s, status %v, code %q; want client, Error, CANCELLED",
					span.SpanKind(), span.Status(), attr(span, "rpc.response.status_code"))
			}
		})
	}
}
