package wrr_test

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
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// gauges reads the int64 gauge name from r as attribute string -> value.
func gauges(ctx context.Context, r sdkmetric.Reader, name string) (map[string]int64, error) {
	var rm metricdata.ResourceMetrics
	if err := r.Collect(ctx, &rm); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			g, ok := m.Data.(metricdata.Gauge[int64])
			if m.Name != name || !ok {
				continue
			}
			for _, p := range g.DataPoints {
				ep, _ := p.Attributes.Value("grpckit.lb.endpoint")
				out[ep.AsString()] = p.Value
			}
		}
	}
	return out, nil
}

// TestEndToEndMetricsThroughOpenTelemetryPlugin enables the policy's
// metrics in grpc-go's OpenTelemetry plugin, as a user would, and reads
// them through the SDK's manual reader: three backends of weights 1:2:3
// report those weights, and calls follow them.
func TestEndToEndMetricsThroughOpenTelemetryPlugin(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })

	gs := shardtest.StartGreeters(t, 1, 2, 3)
	insts := shardtest.Instances(gs...)
	r := manual.NewBuilderWithScheme("grpckit-test")
	r.InitialState(resolver.State{Endpoints: kitresolver.Endpoints(insts)})
	client := shardtest.Dial(t, r.Scheme()+":///greeter", serviceConfig, grpc.WithResolvers(r),
		opentelemetry.DialOption(opentelemetry.Options{MetricsOptions: opentelemetry.MetricsOptions{
			MeterProvider: mp,
			Metrics:       opentelemetry.DefaultMetrics().Add("grpckit.lb.wrr.endpoint_weight", "grpckit.lb.wrr.ready_endpoints"),
		}}))
	want := map[string]int64{}
	for _, inst := range insts {
		want[inst.Addr] = int64(inst.Weight)
	}
	shardtest.Poll(t, func(ctx context.Context) error {
		if err := shardtest.SharesMatch(shardtest.Batch(ctx, client, 60, 1), []uint32{1, 2, 3}, 0.05); err != nil {
			return err
		}
		got, err := gauges(ctx, reader, "grpckit.lb.wrr.endpoint_weight")
		if err != nil {
			return err
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("endpoint weights %v, want %v", got, want)
		}
		n, err := gauges(ctx, reader, "grpckit.lb.wrr.ready_endpoints")
		if err != nil {
			return err
		}
		if n[""] != 3 {
			return fmt.Errorf("ready endpoints %v, want 3", n)
		}
		return nil
	})
}
