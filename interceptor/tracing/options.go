package tracing

import (
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/stats"
)

// Option configures the interceptors, ServerOptions and DialOptions, and the
// stats handlers of ServerOption and DialOption. Options are evaluated
// once, when the interceptor, option or handler is built; a nil Option is
// skipped.
type Option func(*config)

type config struct {
	provider   trace.TracerProvider // nil: the global provider, looked up per RPC
	propagator propagation.TextMapPropagator
	meters     metric.MeterProvider // nil: no RPC metrics
	filter     func(*stats.RPCTagInfo) bool
	events     []otelgrpc.Event
	stats      bool // WithStatsHandler
}

// statsPath reports whether ServerOptions and DialOptions install the
// stats handler rather than the interceptors.
func (c *config) statsPath() bool { return c.stats || c.meters != nil }

func newConfig(opts []Option) *config {
	c := &config{propagator: otel.GetTextMapPropagator()}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	return c
}

// WithTracerProvider makes the handlers start spans from tp instead of the
// global provider (otel.GetTracerProvider, looked up on every RPC so a
// provider installed later, for example by Setup, is used).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.provider = tp }
}

// WithPropagators sets how span context and baggage travel in gRPC metadata.
// The default is the global propagator (otel.GetTextMapPropagator), which
// Setup sets to W3C tracecontext and baggage. The carriers handed to p's
// Inject and Extract are pooled and reused by later RPCs: p must not keep
// them, or call them, after Inject or Extract returns (the propagators of
// OpenTelemetry's propagation package do not).
func WithPropagators(p propagation.TextMapPropagator) Option {
	return func(c *config) {
		if p != nil {
			c.propagator = p
		}
	}
}

// WithMeterProvider turns on otelgrpc's RPC duration metrics, recorded with
// mp. They come from otelgrpc's stats handler, so this option makes
// ServerOptions and DialOptions take the stats-handler path (as
// WithStatsHandler does); the interceptors ignore it. Metrics need every
// RPC, so with this option an RPC whose span is not recorded still goes
// through otelgrpc.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) {
		if _, off := mp.(metricnoop.MeterProvider); off {
			mp = nil
		}
		c.meters = mp
	}
}

// WithFilter traces only the RPCs for which keep returns true (health checks,
// for example, may be left out). The interceptors give keep an RPCTagInfo
// with the FullMethodName only, the same one for every call of a method. An RPC left out gets no span and no
// metrics, but the span context of its caller is still propagated.
func WithFilter(keep func(*stats.RPCTagInfo) bool) Option {
	return func(c *config) { c.filter = keep }
}

// WithMessageEvents asks otelgrpc's stats handler for an event on the span
// for every message sent or received (otelgrpc.SentEvents,
// otelgrpc.ReceivedEvents), on the stats-handler path only; the otelgrpc
// version in use records none. Off by default.
func WithMessageEvents(events ...otelgrpc.Event) Option {
	return func(c *config) { c.events = append(c.events, events...) }
}

// WithStatsHandler makes ServerOptions and DialOptions trace with the stats
// handlers of ServerOption and DialOption, built on otelgrpc's, instead of
// the interceptors: the path for those who want otelgrpc's metrics
// (WithMeterProvider) or its message events. It costs more per RPC, also
// for RPCs nobody records; see the package doc. The interceptors ignore it.
func WithStatsHandler() Option {
	return func(c *config) { c.stats = true }
}
