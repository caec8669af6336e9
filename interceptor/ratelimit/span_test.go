package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"
)

// spanDecisions runs admit twice (admitted, then rejected) inside a span of
// tp and returns the decisions recorded as events.
func spanDecisions(t *testing.T, tp trace.TracerProvider, rec *tracetest.SpanRecorder) []string {
	t.Helper()
	clock := NewFakeClock(t0)
	tb, err := NewTokenBucket(rate.Every(time.Second), 1, WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	g := newGate(tb, []Option{WithClock(clock)}, false)
	ctx, span := tp.Tracer("test").Start(context.Background(), "call")
	if _, err := g.admit(ctx, g.l, "", "/m"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.admit(ctx, g.l, "", "/m"); err == nil {
		t.Fatal("second request admitted")
	}
	span.End()
	if rec == nil {
		return nil
	}
	var got []string
	for _, s := range rec.Ended() {
		for _, e := range s.Events() {
			for _, a := range e.Attributes {
				got = append(got, e.Name+" "+string(a.Key)+"="+a.Value.String())
			}
		}
	}
	return got
}

func TestSpanEvents(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	got := spanDecisions(t, tp, rec)
	want := []string{
		"grpckit.ratelimit grpckit.ratelimit.decision=admitted",
		"grpckit.ratelimit grpckit.ratelimit.wait_ms=0",
		"grpckit.ratelimit grpckit.ratelimit.decision=rejected",
		"grpckit.ratelimit grpckit.ratelimit.retry_after_ms=1000",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("span events (-want +got):\n%s", diff)
	}

}

// TestAdmitAllocatesNothing checks the admitted path, with a span that is
// not recording, allocates nothing.
func TestAdmitAllocatesNothing(t *testing.T) {
	tb, err := NewTokenBucket(rate.Inf, 0)
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	ctx, span := tp.Tracer("test").Start(context.Background(), "call")
	defer span.End()
	g := newGate(tb, []Option{WithKey(KeyMethod)}, false)
	tb.Allow("/m")
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := g.admit(ctx, g.l, g.o.key(ctx, "/m"), "/m"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("admit allocates %v times per call, want 0", allocs)
	}
}
