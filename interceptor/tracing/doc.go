// Package tracing traces gRPC calls with OpenTelemetry: ServerOption and
// DialOption install stats handlers built on otelgrpc's, and Setup configures
// the process's tracer provider and propagators from the standard OTEL_*
// environment.
//
// The handlers produce otelgrpc's spans (named after the full method, with
// its rpc.* attributes and status) and add network.peer.address and
// network.peer.port: on a client span the backend the balancer picked, set
// when the request goes out, so a failed call still says where it went.
//
// Spans nobody records cost almost nothing: for each RPC the handler first
// starts the span itself and asks the tracer whether it records (a no-op
// provider is known without asking). Only a recorded span is handed to
// otelgrpc to fill in; otherwise the handler just carries the span context
// and baggage through the metadata, so a trace sampled further downstream
// still joins up. otelgrpc's RPC metrics are off unless WithMeterProvider
// asks for them, since they would need every RPC to go through otelgrpc.
//
// Tracing belongs outermost: pass ServerOption to grpc.NewServer and
// DialOption to grpc.NewClient. On a server the stats handler runs before
// any interceptor, so the interceptors' span events (rate limiter, recovery)
// land on the RPC's server span. On a client, interceptors run before the
// stats handler starts the RPC's span, so their events land on the caller's
// span.
package tracing
