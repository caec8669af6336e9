package tracing

import (
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
)

// ScopeName is the instrumentation scope of the tracer the handlers use.
const ScopeName = "github.com/grpckit/grpckit/interceptor/tracing"

// ServerOption returns a server option that traces every RPC the server
// receives: it continues the caller's trace from the incoming metadata and
// records a server span when the tracer provider samples it.
func ServerOption(opts ...Option) grpc.ServerOption {
	return grpc.StatsHandler(newHandler(trace.SpanKindServer, opts))
}

// DialOption returns a dial option that traces every RPC on the connection:
// it records a client span, child of the span in the call's context, when
// the tracer provider samples it, and always propagates the span context in
// the outgoing metadata.
func DialOption(opts ...Option) grpc.DialOption {
	return grpc.WithStatsHandler(newHandler(trace.SpanKindClient, opts))
}
