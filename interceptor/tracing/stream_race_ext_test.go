package tracing_test

import (
	"context"
	"sync"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/grpckit/grpckit/interceptor/tracing"
	"github.com/grpckit/grpckit/internal/greeter"
	"github.com/grpckit/grpckit/internal/testutil"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestStreamSpanEndsOnceUnderRaces opens streams on contexts already
// cancelled, and streams whose caller cancels while another goroutine reads
// them to their end: every stream's span ends exactly once, with no data
// race between the context's callback and the interceptor.
func TestStreamSpanEndsOnceUnderRaces(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	srv := greeter.Start(t, kitresolver.Instance{ID: "s"})
	client := greeterv1.NewGreeterClient(dial(t, srv.Addr, tracing.WithTracerProvider(tp), tracing.WithPropagators(w3c)))
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()

	const n = 50
	var wg sync.WaitGroup
	for range n {
		done, stop := context.WithCancel(ctx)
		stop()
		// gRPC may fail the call or return a stream that fails its first
		// read; either way its span ends once.
		_, _ = client.SayHelloStream(done, &greeterv1.SayHelloStreamRequest{Name: "ann", Count: 1})
		callCtx, abandon := context.WithCancel(ctx)
		s, err := client.SayHelloStream(callCtx, &greeterv1.SayHelloStreamRequest{Name: "ann", Count: 2})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			for {
				if _, err := s.Recv(); err != nil {
					return
				}
			}
		}()
		go func() { defer wg.Done(); abandon() }()
	}
	wg.Wait()
	spans := waitEnded(t, rec, 2*n)
	seen := map[string]int{}
	for _, s := range spans {
		seen[s.SpanContext().SpanID().String()]++
	}
	if len(spans) != 2*n || len(seen) != 2*n {
		t.Errorf("%d spans ended, %d distinct; want %d each", len(spans), len(seen), 2*n)
	}
}
