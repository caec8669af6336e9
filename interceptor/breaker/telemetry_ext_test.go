package breaker_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"

	"github.com/grpckit/grpckit/interceptor/breaker"
	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestTelemetry: state changes and refusals show as events on the call's
// span, and as metrics on the configured MeterProvider; an unsampled span
// gets nothing.
func TestTelemetry(t *testing.T) {
	ctx := testContext(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(ctx)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(ctx)

	srv := greeter.Start(t, kitresolver.Instance{})
	srv.SetFailure(codes.Unavailable)
	g := newGroup(t, breaker.WithConsecutiveFailures(1), breaker.WithMeterProvider(mp))
	_, client := dial(t, srv.Addr, g)
	key := service + "SayHello"

	spanCtx, span := tp.Tracer("test").Start(ctx, "caller")
	for range 2 { // the first trips the breaker, the second is refused
		_, _ = client.SayHello(spanCtx, &greeterv1.SayHelloRequest{})
	}
	span.End()
	unsampled := trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{TraceID: [16]byte{1}, SpanID: [8]byte{1}}))
	_, _ = client.SayHello(unsampled, &greeterv1.SayHelloRequest{})

	type event struct {
		Name  string
		Attrs map[string]string
	}
	var got []event
	for _, s := range rec.Ended() {
		for _, e := range s.Events() {
			attrs := map[string]string{}
			for _, kv := range e.Attributes {
				attrs[string(kv.Key)] = kv.Value.String()
			}
			got = append(got, event{e.Name, attrs})
		}
	}
	want := []event{
		{"grpckit.breaker.state_change", map[string]string{"grpckit.breaker.key": key, "grpckit.breaker.from": "closed", "grpckit.breaker.to": "open"}},
		{"grpckit.breaker.rejected", map[string]string{"grpckit.breaker.key": key, "grpckit.breaker.state": "open"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("span events (-want +got):\n%s", diff)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	gotMetrics := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					gotMetrics[m.Name+" "+attrString(p.Attributes)] = p.Value
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					gotMetrics[m.Name+" "+attrString(p.Attributes)] = p.Value
				}
			}
		}
	}
	wantMetrics := map[string]int64{
		"grpckit.breaker.state grpckit.breaker.key=" + key:                                                                int64(breaker.StateOpen),
		"grpckit.breaker.transitions grpckit.breaker.from=closed,grpckit.breaker.key=" + key + ",grpckit.breaker.to=open": 1,
		"grpckit.breaker.rejections grpckit.breaker.key=" + key + ",grpckit.breaker.state=open":                           2,
	}
	if diff := cmp.Diff(wantMetrics, gotMetrics); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
}

func attrString(s attribute.Set) string {
	return string(s.Encoded(attribute.DefaultEncoder()))
}
