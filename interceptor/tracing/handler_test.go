package tracing

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
)

// countingHandler stands in for otelgrpc's handler and counts what it sees.
type countingHandler struct {
	emptyHandler
	tags, events atomic.Int32
}

func (c *countingHandler) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	c.tags.Add(1)
	return ctx
}

func (c *countingHandler) HandleRPC(context.Context, stats.RPCStats) { c.events.Add(1) }

// TestOtelgrpcOnlyForRecordedRPCs checks the wrapper's decision: otelgrpc
// sees an RPC only when its span records or metrics are on, on both sides,
// and the client always propagates a valid span context.
func TestOtelgrpcOnlyForRecordedRPCs(t *testing.T) {
	sdk := func(s sdktrace.Sampler) trace.TracerProvider {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(s), sdktrace.WithSpanProcessor(dropSpans{}))
		t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		return tp
	}
	mp := sdkmetric.NewMeterProvider()
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{9}, SpanID: trace.SpanID{9}, Remote: true})
	cases := []struct {
		name string
		opts []Option
		want int32 // RPCs otelgrpc sees, of one client and one server RPC
	}{
		{"sampled", []Option{WithTracerProvider(sdk(sdktrace.AlwaysSample()))}, 2},
		{"unsampled parent", []Option{WithTracerProvider(sdk(sdktrace.ParentBased(sdktrace.AlwaysSample())))}, 0},
		{"never sample", []Option{WithTracerProvider(sdk(sdktrace.NeverSample()))}, 0},
		{"noop", []Option{WithTracerProvider(noop.NewTracerProvider())}, 0},
		{"noop with metrics", []Option{WithTracerProvider(noop.NewTracerProvider()), WithMeterProvider(mp)}, 2},
		{"unsampled with metrics", []Option{WithTracerProvider(sdk(sdktrace.NeverSample())), WithMeterProvider(mp)}, 2},
		{"filtered", []Option{WithTracerProvider(sdk(sdktrace.AlwaysSample())),
			WithFilter(func(*stats.RPCTagInfo) bool { return false })}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := append([]Option{WithPropagators(benchW3C)}, c.opts...)
			client, server := newHandler(trace.SpanKindClient, opts), newHandler(trace.SpanKindServer, opts)
			seen := &countingHandler{}
			client.otel, server.otel = seen, seen
			ctx := trace.ContextWithRemoteSpanContext(context.Background(), parent)
			rpcEventsFrom(ctx, client, server)
			got := []int32{seen.tags.Load(), seen.events.Load()}
			want := []int32{c.want, c.want * 7} // 7 events per side after TagRPC
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("otelgrpc's TagRPC and HandleRPC calls (-want +got):\n%s", diff)
			}
		})
	}
}

// TestClientPropagatesWithoutOtelgrpc checks the cheap client path writes
// traceparent, replacing one the caller set.
func TestClientPropagatesWithoutOtelgrpc(t *testing.T) {
	h := newHandler(trace.SpanKindClient, []Option{WithTracerProvider(noop.NewTracerProvider()), WithPropagators(benchW3C)})
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}})
	want := "00-01000000000000000000000000000000-0200000000000000-00"
	for _, preset := range []string{"", "stale"} {
		ctx := trace.ContextWithSpanContext(context.Background(), sc)
		if preset != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "traceparent", preset)
		}
		md, _ := metadata.FromOutgoingContext(h.TagRPC(ctx, rpcInfo))
		if diff := cmp.Diff([]string{want}, md.Get("traceparent")); diff != "" {
			t.Errorf("traceparent with %q preset (-want +got):\n%s", preset, diff)
		}
	}
}
