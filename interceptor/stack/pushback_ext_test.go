package stack_test

import (
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/interceptor/ratelimit"
	"github.com/grpckit/grpckit/interceptor/stack"
)

// TestClientPushbackSharedByUnaryAndStreams: the unary and stream
// interceptors of one stack.Client share the pushback holds: after a
// server's pushback on one kind of call, the calls of every other kind to
// that target are held back by the client (with PushbackPerTarget), and say
// so, instead of reaching the server.
func TestClientPushbackSharedByUnaryAndStreams(t *testing.T) {
	for _, first := range rpcs {
		t.Run(first.kind, func(t *testing.T) {
			rec, tr := traced(t)
			b := serve(t, tr, stack.WithLimiter(hourly(t)))
			c := dial(t, b.Addr, []stack.ClientOption{
				stack.WithoutTracing(),
				stack.WithLimiter(ratelimit.Unlimited, ratelimit.WithPushbackScope(ratelimit.PushbackPerTarget)),
			})
			ctx := timeout(t)
			if err := first.call(ctx, c); err != nil {
				t.Fatalf("first call: %v", err)
			}
			err := first.call(ctx, c)
			if msg := status.Convert(err).Message(); status.Code(err) != codes.ResourceExhausted || strings.Contains(msg, "held back by the client") {
				t.Fatalf("second call: %v; want the server's rejection", err)
			}
			for _, r := range rpcs {
				err := r.call(ctx, c)
				if msg := status.Convert(err).Message(); status.Code(err) != codes.ResourceExhausted || !strings.Contains(msg, "held back by the client") {
					t.Errorf("%s after the pushback: %v; want held back by the client", r.kind, err)
				}
				if r.method != first.method && started(rec, trace.SpanKindServer, r.method) != 0 {
					t.Errorf("%s after the pushback reached the server", r.kind)
				}
			}
		})
	}
}
