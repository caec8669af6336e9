package stack_test

import (
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/interceptor/stack"
	"github.com/grpckit/grpckit/interceptor/tracing"
)

// TestTracingPaths checks that both of tracing's paths work in the stack:
// the default interceptors and, with tracing.WithStatsHandler, the stats
// handler. The server span is the client span's child, for every RPC kind,
// and on the default path the server's rate-limit rejection lands on the
// server span while the client span records the error.
func TestTracingPaths(t *testing.T) {
	for _, path := range []struct {
		name string
		opts []tracing.Option
	}{{"interceptors", nil}, {"stats handler", []tracing.Option{tracing.WithStatsHandler()}}} {
		for _, r := range rpcs {
			t.Run(path.name+"/"+r.kind, func(t *testing.T) {
				rec := tracetest.NewSpanRecorder()
				tp := recording(t, rec)
				tr := stack.WithTracing(append([]tracing.Option{tracing.WithTracerProvider(tp), tracing.WithPropagators(w3c)}, path.opts...)...)
				b := serve(t, tr, stack.WithLimiter(hourly(t)))
				c := dial(t, b.Addr, []stack.ClientOption{tr, stack.WithoutRateLimit()})
				ctx := timeout(t)
				if err := r.call(ctx, c); err != nil {
					t.Fatalf("%s: %v", r.method, err)
				}
				if err := r.call(ctx, c); status.Code(err) != codes.ResourceExhausted {
					t.Fatalf("second %s: %v, want ResourceExhausted", r.method, err)
				}
				clients := waitEnded(t, rec, trace.SpanKindClient, r.method, 2)
				servers := waitEnded(t, rec, trace.SpanKindServer, r.method, 2)
				// A server span may end after the next call's: pair them by
				// parent, not by the order they ended in.
				parents := map[trace.SpanID]int{}
				for _, sv := range servers {
					parents[sv.Parent().SpanID()]++
				}
				for i, cl := range clients {
					if parents[cl.SpanContext().SpanID()] != 1 {
						t.Errorf("client span %d (%s) is the parent of %d server spans, want 1",
							i, cl.SpanContext().SpanID(), parents[cl.SpanContext().SpanID()])
					}
				}
				// On the stats-handler path a stream's request, sent after the
				// stream opens, can race the server's early status (the
				// limiter rejects before reading it): grpc-go then reports the
				// attempt's end without the error and otelgrpc records OK
				// (package tracing's doc lists it). The interceptors record
				// the error the caller gets, for every kind.
				if path.opts != nil && r.kind != "unary" {
					return
				}
				if got := attr(clients[1], statusAttr); got != "RESOURCE_EXHAUSTED" {
					t.Errorf("rejected call's client span has status code %q, want RESOURCE_EXHAUSTED", got)
				}
			})
		}
	}
}
