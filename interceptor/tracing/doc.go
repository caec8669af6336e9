// Package tracing traces gRPC calls with OpenTelemetry, and Setup configures
// the process's tracer provider and propagators from the standard OTEL_*
// environment.
//
// # The default path: interceptors
//
// ServerOptions and DialOptions install unary and stream interceptors
// (also available alone: UnaryServerInterceptor, StreamClientInterceptor
// and the others, and the Wrap functions that put another interceptor
// inside them without gRPC's per-call chaining closure). They start the
// RPC's span themselves, carry its span context and baggage through the
// metadata with the configured propagator (W3C traceparent and baggage by
// default), and record what otelgrpc's stats handlers record under the
// current RPC semantic conventions: the span name (the full method without
// its leading slash), the kind, rpc.system.name and rpc.method (or, with
// OTEL_SEMCONV_STABILITY_OPT_IN=rpc/old or rpc/dup, rpc.system, rpc.service
// and the short rpc.method, as otelgrpc does), rpc.response.status_code,
// the span status (on a client every non-OK code is an error; on a server
// only Unknown, DeadlineExceeded, Unimplemented, Internal, Unavailable and
// DataLoss are), server.address and server.port (on a client the backend
// the balancer picked, on a server the address the call came in on). They
// add network.peer.address and network.peer.port: on a client span the
// picked backend, known when gRPC ends the call, so a failed call still
// says where it went; on a server span the caller.
//
// Chain them first: on both sides the interceptors after them run inside
// the span, so the events of package breaker and package ratelimit (a
// rejection, a pushback hold, a state change) land on the RPC's span, on a
// client too, and a call the breaker refuses has a client span saying so.
//
// An RPC whose span does not record costs the sampling decision (the span
// start; none with a no-op provider) and the propagation of the span
// context: no attribute is built, no address formatted. What a recorded
// span needs is precomputed once per method (a bounded cache) and per
// connection.
//
// # The stats-handler path
//
// ServerOption and DialOption, or WithStatsHandler given to ServerOptions
// and DialOptions, use stats handlers built on otelgrpc's instead, for
// otelgrpc's RPC metrics (WithMeterProvider, which selects this path).
// Any stats handler costs a gRPC call more than the interceptors before it
// does anything (see docs/PERFORMANCE.md), so the RPCs nobody records pay
// for it too. The handler still starts the span first and hands only a
// recorded one to otelgrpc. On a client, interceptors run before the stats
// handler starts the span, so their events land on the caller's span.
//
// # Differences from otelgrpc's handlers
//
// TestConformsToOtelgrpc runs the same RPCs through otelgrpc's handlers and
// through the interceptors and compares the spans. What differs:
//
//   - network.peer.address and network.peer.port are added, on both sides.
//   - The sampler sees the span's name and kind, not its rpc.* attributes,
//     which are set once the span is known to record.
//   - A client span covers the call as the caller sees it, from the first
//     interceptor to the returned error: one span per call, not one per
//     attempt when gRPC retries; the time the limiter held the call is in
//     it; a call the breaker or limiter refuses has a span with that error.
//   - The client span's status is the error the caller gets. When a client
//     sends while the server's early status arrives, grpc-go can report
//     the attempt's end to stats handlers without the error, and otelgrpc
//     then records OK; the interceptors record the error.
//   - A client stream's span ends when the caller sees the stream end
//     (RecvMsg's io.EOF or error, a SendMsg error other than io.EOF, the one
//     response of a call that does not stream responses) or when the call's
//     context is done, not when the transport ends it; a stream never read
//     to its end on a context that is never done keeps its span open.
//   - WithFilter's function gets an RPCTagInfo holding the full method only.
//   - No message events and no metrics: use the stats-handler path (the
//     otelgrpc version in use records no message events either).
package tracing
