package p2c_test

import (
	"context"
	"fmt"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/grpc"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/stats/opentelemetry"

	"github.com/grpckit/grpckit/balancer/internal/shardtest"
	"github.com/grpckit/grpckit/balancer/p2c"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestEndToEndMetricsThroughOpenTelemetryPlugin enables the policy's
// metrics in grpc-go's OpenTelemetry plugin, as a user would, and reads them
// through the SDK's manual reader: after calls have finished, both backends
// report nothing in flight and a positive cost.
func TestEndToEndMetricsThroughOpenTelemetryPlugin(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })

	gs := shardtest.StartGreeters(t, 1, 1)
	insts := shardtest.Instances(gs...)
	r := manual.NewBuilderWithScheme("grpckit-test")
	r.InitialState(resolver.State{Endpoints: kitresolver.Endpoints(insts)})
	client := shardtest.Dial(t, r.Scheme()+":///greeter", shardtest.ServiceConfig(p2c.Name, `{}`), grpc.WithResolvers(r),
		opentelemetry.DialOption(opentelemetry.Options{MetricsOptions: opentelemetry.MetricsOptions{
			MeterProvider: mp,
			Metrics:       opentelemetry.DefaultMetrics().Add("grpckit.lb.p2c.endpoint_cost", "grpckit.lb.p2c.endpoint_in_flight", "grpckit.lb.p2c.ready_endpoints"),
		}}))
	shardtest.Poll(t, func(ctx context.Context) error {
		if n := shardtest.Batch(ctx, client, 64, 1)["error"]; n > 0 {
			return fmt.Errorf("%d calls failed", n)
		}
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(ctx, &rm); err != nil {
			return err
		}
		got := map[string]int64{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if g, ok := m.Data.(metricdata.Gauge[int64]); ok {
					for _, p := range g.DataPoints {
						ep, _ := p.Attributes.Value("grpckit.lb.endpoint")
						got[m.Name+" "+ep.AsString()] = p.Value
					}
				}
			}
		}
		if got["grpckit.lb.p2c.ready_endpoints "] != 2 {
			return fmt.Errorf("ready endpoints %d, want 2 (%v)", got["grpckit.lb.p2c.ready_endpoints "], got)
		}
		for _, inst := range insts {
			if f, ok := got["grpckit.lb.p2c.endpoint_in_flight "+inst.Addr]; !ok || f != 0 {
				return fmt.Errorf("%s: in flight %d (reported %v), want 0", inst.Addr, f, ok)
			}
			if c := got["grpckit.lb.p2c.endpoint_cost "+inst.Addr]; c <= 0 {
				return fmt.Errorf("%s: cost %d, want > 0", inst.Addr, c)
			}
		}
		return nil
	})
}
