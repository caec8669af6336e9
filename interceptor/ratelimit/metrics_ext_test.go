package ratelimit_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"

	"github.com/grpckit/grpckit/interceptor/ratelimit"
)

type keyCtx struct{}

func keyFromCtx(ctx context.Context, _ string) string { return ctx.Value(keyCtx{}).(string) }

// collect reads every metric of the manual reader, as name -> attribute
// set -> value (a histogram's value is its count; its sum goes under
// name+".sum").
func collect(t *testing.T, r *sdkmetric.ManualReader) map[string]map[attribute.Distinct]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[attribute.Distinct]float64{}
	put := func(name string, set attribute.Set, v float64) {
		if out[name] == nil {
			out[name] = map[attribute.Distinct]float64{}
		}
		out[name][set.Equivalent()] = v
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					put(m.Name, p.Attributes, float64(p.Value))
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					put(m.Name, p.Attributes, float64(p.Value))
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					put(m.Name, p.Attributes, float64(p.Count))
					put(m.Name+".sum", p.Attributes, p.Sum)
				}
			}
		}
	}
	return out
}

func set(kv ...string) attribute.Distinct {
	var attrs []attribute.KeyValue
	for i := 0; i < len(kv); i += 2 {
		attrs = append(attrs, attribute.String(kv[i], kv[i+1]))
	}
	s := attribute.NewSet(attrs...)
	return s.Equivalent()
}

// TestMetricsScenario admits, rejects, waits and evicts a known number of
// times and reads every metric back through the SDK's manual reader.
func TestMetricsScenario(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })

	// A bucket that never refills in the test: burst 2 per key, 2 keys.
	tb, err := ratelimit.NewTokenBucket(rate.Every(time.Hour), 2, ratelimit.WithMaxKeys(2), ratelimit.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	unary := ratelimit.UnaryServerInterceptor(tb, ratelimit.WithKey(keyFromCtx), ratelimit.WithMeterProvider(mp))
	info := &grpc.UnaryServerInfo{FullMethod: methodUnary}
	handler := func(context.Context, any) (any, error) { return nil, nil }
	call := func(key string) error {
		ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), keyCtx{}, key), 10*time.Second)
		defer cancel()
		_, err := unary(ctx, nil, info, handler)
		return err
	}
	for i, key := range []string{"a", "a", "a", "b", "c"} {
		err := call(key)
		if wantErr := i == 2; (err != nil) != wantErr {
			t.Fatalf("call %d (key %q): err %v, want error %v", i, key, err, wantErr)
		}
	}

	// A waiting server: burst 1 at 1000/s, so the second call waits ~1ms.
	fast, err := ratelimit.NewTokenBucket(1000, 1, ratelimit.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	waiting := ratelimit.UnaryServerInterceptor(fast, ratelimit.WithWait(time.Second), ratelimit.WithMeterProvider(mp))
	for range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := waiting(ctx, nil, info, handler); err != nil {
			t.Fatal(err)
		}
		cancel()
	}

	got := collect(t, reader)
	server := set(ratelimit.AttrSide, "server")
	checks := []struct {
		name string
		set  attribute.Distinct
		want float64
	}{
		{ratelimit.MetricAdmitted, server, 4 + 2},
		{ratelimit.MetricRejected, set(ratelimit.AttrReason, "limit", ratelimit.AttrSide, "server"), 1},
		{ratelimit.MetricWait, server, 1},
		{ratelimit.MetricKeysEvicted, set(ratelimit.AttrReason, "capacity"), 1},
		{ratelimit.MetricKeysEvicted, set(ratelimit.AttrReason, "idle"), 0},
		// Summed over both limiters: the scenario's holds its bound, 2;
		// the waiting one only the global key, which is not counted.
		{ratelimit.MetricKeys, set(), 2},
	}
	for _, c := range checks {
		if v, ok := got[c.name][c.set]; !ok || v != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.set, v, ok, c.want)
		}
	}
	if sum := got[ratelimit.MetricWait+".sum"][server]; sum <= 0 || sum > 1 {
		t.Errorf("wait sum %v s, want in (0, 1]", sum)
	}
}

// TestMetricsLetLimitersGo checks that the keys callback does not keep a
// limiter alive: once it is collected, its keys are no longer reported.
func TestMetricsLetLimitersGo(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	func() {
		tb, err := ratelimit.NewTokenBucket(rate.Every(time.Hour), 1, ratelimit.WithMeterProvider(mp))
		if err != nil {
			t.Fatal(err)
		}
		tb.Reserve("k", 0)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		got := collect(t, reader)
		if got[ratelimit.MetricKeys][set()] == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("keys still reported %v after the limiter was dropped", got[ratelimit.MetricKeys])
		}
		time.Sleep(time.Millisecond)
	}
}
