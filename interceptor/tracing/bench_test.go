package tracing_test

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"

	"github.com/grpckit/grpckit/interceptor/tracing"
	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// discard is a span processor that drops finished spans, so the benchmarks
// measure recording, not exporting.
type discard struct{}

func (discard) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (discard) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (discard) Shutdown(context.Context) error                  { return nil }
func (discard) ForceFlush(context.Context) error                { return nil }

func sdkProvider(b *testing.B, s sdktrace.Sampler) trace.TracerProvider {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(s), sdktrace.WithSpanProcessor(discard{}))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp
}

// empty is a stats.Handler that does nothing: the floor of any handler,
// what grpc-go spends reporting an RPC's events.
type empty struct{}

func (empty) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (empty) HandleRPC(context.Context, stats.RPCStats)                         {}
func (empty) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (empty) HandleConn(context.Context, stats.ConnStats)                       {}

// propagationOnly is the floor of any tracing that propagates: interceptors
// that send a fresh W3C traceparent with every call and continue it on the
// server, with no tracer at all.
func propagationOnly() ([]grpc.ServerOption, []grpc.DialOption) {
	var next atomic.Uint64
	client := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		var ids [24]byte // trace ID, then span ID
		binary.BigEndian.PutUint64(ids[8:], next.Add(1))
		ids[16] = 1
		var buf [55]byte
		copy(buf[:], "00-")
		hex.Encode(buf[3:35], ids[:16])
		buf[35] = '-'
		hex.Encode(buf[36:52], ids[16:])
		copy(buf[52:], "-00")
		return invoker(metadata.AppendToOutgoingContext(ctx, "traceparent", string(buf[:])), method, req, reply, cc, opts...)
	}
	server := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		c := &traceparentCarrier{}
		if v := metadata.ValueFromIncomingContext(ctx, "traceparent"); len(v) > 0 {
			c.v = v[0]
		}
		return handler(propagation.TraceContext{}.Extract(ctx, c), req)
	}
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(server)}, []grpc.DialOption{grpc.WithChainUnaryInterceptor(client)}
}

// traceparentCarrier holds one traceparent value.
type traceparentCarrier struct{ v string }

func (c *traceparentCarrier) Get(key string) string {
	if key == "traceparent" {
		return c.v
	}
	return ""
}
func (c *traceparentCarrier) Set(string, string) {}
func (c *traceparentCarrier) Keys() []string     { return []string{"traceparent"} }

// otelgrpcOnly is the anchor: otelgrpc's handlers alone, with the same
// provider and propagators, metrics off as in tracing's default.
func otelgrpcOnly(tp trace.TracerProvider) ([]grpc.ServerOption, []grpc.DialOption) {
	opts := []otelgrpc.Option{otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(w3c),
		otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider())}
	return []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(opts...))},
		[]grpc.DialOption{grpc.WithStatsHandler(otelgrpc.NewClientHandler(opts...))}
}

// withTracing is the default path, tracing's interceptors, or with
// tracing.WithStatsHandler its stats handler.
func withTracing(tp trace.TracerProvider, extra ...tracing.Option) ([]grpc.ServerOption, []grpc.DialOption) {
	opts := append([]tracing.Option{tracing.WithTracerProvider(tp), tracing.WithPropagators(w3c)}, extra...)
	return tracing.ServerOptions(opts...), tracing.DialOptions(opts...)
}

// BenchmarkUnaryRPC measures a unary greeter RPC over loopback, server and
// client both instrumented: bare grpc-go, the propagation of a trace context
// alone (the floor of any tracing that propagates), an empty stats handler
// (the floor of any handler), otelgrpc's handlers alone, this package's default path
// (interceptors) and its stats-handler path, for a sampling SDK tracer, a
// parent-based never-sampling one (the server then sees an unsampled remote
// parent) and a no-op provider. Targets: tracing/unsampled and tracing/noop
// ≤ 1.05× bare; tracing/sampled ≤ 0.85× otelgrpc/sampled.
func BenchmarkUnaryRPC(b *testing.B) {
	b.Run("bare", func(b *testing.B) { benchRPC(b, nil, nil) })
	b.Run("propagation", func(b *testing.B) {
		srv, dial := propagationOnly()
		benchRPC(b, srv, dial)
	})
	b.Run("emptyhandler", func(b *testing.B) {
		benchRPC(b, []grpc.ServerOption{grpc.StatsHandler(empty{})}, []grpc.DialOption{grpc.WithStatsHandler(empty{})})
	})
	providers := []struct {
		name string
		tp   func(*testing.B) trace.TracerProvider
	}{
		{"sampled", func(b *testing.B) trace.TracerProvider { return sdkProvider(b, sdktrace.AlwaysSample()) }},
		{"unsampled", func(b *testing.B) trace.TracerProvider {
			return sdkProvider(b, sdktrace.ParentBased(sdktrace.NeverSample()))
		}},
		{"noop", func(*testing.B) trace.TracerProvider { return noop.NewTracerProvider() }},
	}
	for _, p := range providers {
		b.Run("otelgrpc/"+p.name, func(b *testing.B) {
			srv, dial := otelgrpcOnly(p.tp(b))
			benchRPC(b, srv, dial)
		})
		b.Run("tracing/"+p.name, func(b *testing.B) {
			srv, dial := withTracing(p.tp(b))
			benchRPC(b, srv, dial)
		})
		b.Run("statshandler/"+p.name, func(b *testing.B) {
			srv, dial := withTracing(p.tp(b), tracing.WithStatsHandler())
			benchRPC(b, srv, dial)
		})
	}
}

func benchRPC(b *testing.B, srv []grpc.ServerOption, dial []grpc.DialOption) {
	s := greeter.Start(b, kitresolver.Instance{ID: "bench"}, srv...)
	cc, err := grpc.NewClient(s.Addr, append(dial, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cc.Close() })
	client := greeterv1.NewGreeterClient(cc)
	req := &greeterv1.SayHelloRequest{Name: "bench"}
	if _, err := client.SayHello(context.Background(), req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := client.SayHello(context.Background(), req); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}
