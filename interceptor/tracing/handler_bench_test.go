package tracing

import (
	"context"
	"net"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
)

var (
	benchW3C   = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	clientAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	serverAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50051}
	rpcInfo    = &stats.RPCTagInfo{FullMethodName: "/greeter.v1.Greeter/SayHello"}
)

// rpcEvents replays what grpc-go reports for one unary RPC to a client
// and a server stats.Handler, handing the client's outgoing metadata to the
// server as the transport would.
func rpcEvents(client, server stats.Handler) {
	rpcEventsFrom(context.Background(), client, server)
}

// rpcEventsFrom is rpcEvents for a call made with ctx.
func rpcEventsFrom(ctx context.Context, client, server stats.Handler) {
	now := time.Now()
	ctx = client.TagRPC(ctx, rpcInfo)
	client.HandleRPC(ctx, &stats.Begin{Client: true, BeginTime: now})
	client.HandleRPC(ctx, &stats.OutHeader{Client: true, FullMethod: rpcInfo.FullMethodName, RemoteAddr: serverAddr})
	client.HandleRPC(ctx, &stats.OutPayload{Client: true, Length: 12, SentTime: now})

	md, _ := metadata.FromOutgoingContext(ctx)
	sctx := server.TagRPC(metadata.NewIncomingContext(context.Background(), md), rpcInfo)
	server.HandleRPC(sctx, &stats.InHeader{FullMethod: rpcInfo.FullMethodName, RemoteAddr: clientAddr, LocalAddr: serverAddr})
	server.HandleRPC(sctx, &stats.Begin{BeginTime: now})
	server.HandleRPC(sctx, &stats.InPayload{Length: 12, RecvTime: now})
	server.HandleRPC(sctx, &stats.OutHeader{})
	server.HandleRPC(sctx, &stats.OutPayload{Length: 40, SentTime: now})
	server.HandleRPC(sctx, &stats.OutTrailer{})
	server.HandleRPC(sctx, &stats.End{BeginTime: now, EndTime: now})

	client.HandleRPC(ctx, &stats.InHeader{Client: true})
	client.HandleRPC(ctx, &stats.InPayload{Client: true, Length: 40, RecvTime: now})
	client.HandleRPC(ctx, &stats.InTrailer{Client: true})
	client.HandleRPC(ctx, &stats.End{Client: true, BeginTime: now, EndTime: now})
}

type dropSpans struct{}

func (dropSpans) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (dropSpans) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (dropSpans) Shutdown(context.Context) error                  { return nil }
func (dropSpans) ForceFlush(context.Context) error                { return nil }

type emptyHandler struct{}

func (emptyHandler) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (emptyHandler) HandleRPC(context.Context, stats.RPCStats)                         {}
func (emptyHandler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (emptyHandler) HandleConn(context.Context, stats.ConnStats)                       {}

// BenchmarkHandlers measures the handlers' own work for one unary RPC, both
// sides, without the network, which on a shared machine drowns differences
// this size: empty handlers (the floor), otelgrpc's alone (the anchor) and
// this package's, for a sampling SDK tracer, a never-sampling one (the
// server then has an unsampled remote parent) and a no-op provider.
func BenchmarkHandlers(b *testing.B) {
	b.Run("empty", func(b *testing.B) { benchEvents(b, emptyHandler{}, emptyHandler{}) })
	providers := []struct {
		name string
		tp   trace.TracerProvider
	}{
		{"sampled", sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithSpanProcessor(dropSpans{}))},
		{"unsampled", sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()), sdktrace.WithSpanProcessor(dropSpans{}))},
		{"noop", noop.NewTracerProvider()},
	}
	for _, p := range providers {
		b.Run("otelgrpc/"+p.name, func(b *testing.B) {
			opts := []otelgrpc.Option{otelgrpc.WithTracerProvider(p.tp), otelgrpc.WithPropagators(benchW3C),
				otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider())}
			benchEvents(b, otelgrpc.NewClientHandler(opts...), otelgrpc.NewServerHandler(opts...))
		})
		b.Run("tracing/"+p.name, func(b *testing.B) {
			opts := []Option{WithTracerProvider(p.tp), WithPropagators(benchW3C)}
			benchEvents(b, newHandler(trace.SpanKindClient, opts), newHandler(trace.SpanKindServer, opts))
		})
	}
}

func benchEvents(b *testing.B, client, server stats.Handler) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rpcEvents(client, server)
		}
	})
}
