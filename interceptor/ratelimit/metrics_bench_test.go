package ratelimit

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
)

// BenchmarkUnaryServerMetrics runs the unary server interceptor (an
// unlimited token bucket, so every call is admitted) with metrics going to
// a noop provider and to the OTel SDK with a manual reader, side by side.
func BenchmarkUnaryServerMetrics(b *testing.B) {
	sdk := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() { _ = sdk.Shutdown(context.Background()) })
	for _, bc := range []struct {
		name string
		mp   metric.MeterProvider
	}{{"metrics=noop", metricnoop.NewMeterProvider()}, {"metrics=sdk", sdk}} {
		b.Run(bc.name, func(b *testing.B) {
			tb, err := NewTokenBucket(rate.Limit(1e12), 1<<30, WithMeterProvider(bc.mp))
			if err != nil {
				b.Fatal(err)
			}
			in := UnaryServerInterceptor(tb, WithMeterProvider(bc.mp))
			info := &grpc.UnaryServerInfo{FullMethod: "/greeter.v1.Greeter/SayHello"}
			h := func(context.Context, any) (any, error) { return nil, nil }
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := in(ctx, nil, info, h); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
