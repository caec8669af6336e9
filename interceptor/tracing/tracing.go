package tracing

import (
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
)

// ScopeName is the instrumentation scope of the tracer the interceptors and
// handlers use.
const ScopeName = "github.com/grpckit/grpckit/interceptor/tracing"

// ServerOptions returns the server options that trace every RPC the server
// receives: by default its unary and stream interceptors (see
// UnaryServerInterceptor); with WithStatsHandler or WithMeterProvider the
// stats handler of ServerOption. Pass them to grpc.NewServer before any
// other interceptor, so the interceptors after them see the span.
func ServerOptions(opts ...Option) []grpc.ServerOption {
	if newConfig(opts).statsPath() {
		return []grpc.ServerOption{ServerOption(opts...)}
	}
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(UnaryServerInterceptor(opts...)),
		grpc.ChainStreamInterceptor(StreamServerInterceptor(opts...)),
	}
}

// DialOptions returns the dial options that trace every RPC on the
// connection: by default its unary and stream interceptors (see
// UnaryClientInterceptor); with WithStatsHandler or WithMeterProvider the
// stats handler of DialOption. Pass them to grpc.NewClient before any other
// interceptor, so the interceptors after them see the span.
func DialOptions(opts ...Option) []grpc.DialOption {
	if newConfig(opts).statsPath() {
		return []grpc.DialOption{DialOption(opts...)}
	}
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(UnaryClientInterceptor(opts...)),
		grpc.WithChainStreamInterceptor(StreamClientInterceptor(opts...)),
	}
}

// ServerOption returns the stats-handler path as one server option: a
// stats handler, built on otelgrpc's, that continues the caller's trace
// from the incoming metadata and records a server span when the tracer
// provider samples it. It costs more than the interceptors of
// ServerOptions, also for RPCs nobody records (see the package doc); use it
// for otelgrpc's metrics (WithMeterProvider).
func ServerOption(opts ...Option) grpc.ServerOption {
	return grpc.StatsHandler(newHandler(trace.SpanKindServer, opts))
}

// DialOption returns the stats-handler path as one dial option: a stats
// handler, built on otelgrpc's, that records a client span, child of the
// span in the call's context, when the tracer provider samples it, and
// always propagates the span context in the outgoing metadata. It costs
// more than the interceptors of DialOptions (see the package doc).
func DialOption(opts ...Option) grpc.DialOption {
	return grpc.WithStatsHandler(newHandler(trace.SpanKindClient, opts))
}

// StatsHandlerPath reports whether opts choose the stats-handler path
// (WithStatsHandler or WithMeterProvider), for code that puts tracing
// together with other interceptors, as package stack does.
func StatsHandlerPath(opts ...Option) bool { return newConfig(opts).statsPath() }
