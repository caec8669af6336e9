package tracing

import (
	"context"
	"net"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/stats"
)

// handler is a stats.Handler in front of otelgrpc's. For every RPC it starts
// the span itself and asks whether it records; only then, or when metrics
// are on, does otelgrpc see the RPC. Otherwise the RPC costs one span start
// (none for a no-op provider) and the propagation of its context.
type handler struct {
	cfg     *config
	kind    trace.SpanKind
	otel    stats.Handler
	tracers *tracers
	metrics bool
	starts  []trace.SpanStartOption
	peers   peerCache
}

// tracerEntry is a provider and the tracer it gave the handler.
type tracerEntry struct {
	provider trace.TracerProvider
	tracer   trace.Tracer
	noop     bool // provider never records: skip the span start
}

func newHandler(kind trace.SpanKind, opts []Option) *handler {
	cfg := newConfig(opts)
	h := &handler{cfg: cfg, kind: kind, metrics: cfg.meters != nil, tracers: newTracers(cfg)}
	// A sampler sees the span's name (the method) and kind. otelgrpc sets
	// the attributes once the span is known to be recorded, so an RPC
	// nobody records does not pay for them.
	h.starts = []trace.SpanStartOption{trace.WithSpanKind(kind)}
	h.otel = newOtelHandler(kind, cfg)
	return h
}

func newOtelHandler(kind trace.SpanKind, cfg *config) stats.Handler {
	mp := cfg.meters
	if mp == nil {
		mp = metricnoop.NewMeterProvider()
	}
	opts := []otelgrpc.Option{
		otelgrpc.WithTracerProvider(handoverProvider{}),
		otelgrpc.WithMeterProvider(mp),
		otelgrpc.WithMessageEvents(cfg.events...),
	}
	if kind == trace.SpanKindServer {
		return otelgrpc.NewServerHandler(append(opts, otelgrpc.WithPropagators(noPropagation))...)
	}
	return otelgrpc.NewClientHandler(append(opts, otelgrpc.WithPropagators(cfg.propagator))...)
}

func newTracerEntry(tp trace.TracerProvider) *tracerEntry {
	switch tp.(type) {
	case noop.TracerProvider, *noop.TracerProvider:
		// noop.Tracer keeps the parent's span context, as metrics need.
		return &tracerEntry{provider: tp, tracer: noop.Tracer{}, noop: true}
	}
	return &tracerEntry{provider: tp, tracer: tp.Tracer(ScopeName)}
}

// TagConn implements stats.Handler.
func (h *handler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

// HandleConn implements stats.Handler.
func (h *handler) HandleConn(context.Context, stats.ConnStats) {}

// TagRPC implements stats.Handler: it extracts (server) or injects (client)
// the span context and hands the RPC to otelgrpc only if it is recorded.
func (h *handler) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	if h.kind == trace.SpanKindServer {
		ctx = extract(ctx, h.cfg.propagator)
	}
	ctx, span := h.start(ctx, info)
	if span == nil || (!span.IsRecording() && !h.metrics) {
		if h.kind == trace.SpanKindClient {
			ctx = inject(ctx, h.cfg.propagator)
		}
		return ctx
	}
	return h.otel.TagRPC(withSpan(ctx, span), info)
}

// start starts the RPC's span, or returns a nil span when none is wanted.
func (h *handler) start(ctx context.Context, info *stats.RPCTagInfo) (context.Context, trace.Span) {
	if h.cfg.filter != nil && !h.cfg.filter(info) {
		return ctx, nil
	}
	e := h.tracers.get()
	if e.noop && !h.metrics {
		return ctx, nil
	}
	return e.tracer.Start(ctx, spanName(info.FullMethodName), h.starts...)
}

// spanName is the span name otelgrpc uses: the full method without its
// leading slash.
func spanName(fullMethod string) string {
	return strings.TrimPrefix(fullMethod, "/")
}

// HandleRPC implements stats.Handler.
func (h *handler) HandleRPC(ctx context.Context, rs stats.RPCStats) {
	span := spanFrom(ctx)
	if span == nil {
		return
	}
	if span.IsRecording() {
		h.annotate(span, rs)
	}
	h.otel.HandleRPC(ctx, rs)
}

// annotate puts the peer's address on the span: on the client the backend
// the balancer picked, known once the headers go out, so it is there also
// when the RPC then fails; on the server the caller's address.
func (h *handler) annotate(span trace.Span, rs stats.RPCStats) {
	switch rs := rs.(type) {
	case *stats.OutHeader:
		if rs.Client && rs.RemoteAddr != nil {
			span.SetAttributes(h.peers.get(rs.RemoteAddr, peerAttrs)...)
		}
	case *stats.InHeader:
		if !rs.Client && rs.RemoteAddr != nil {
			span.SetAttributes(h.peers.get(rs.RemoteAddr, peerAttrs)...)
		}
	}
}

// peerCache keeps the attributes of the last peer addresses seen. gRPC
// passes the same net.Addr for every RPC on a connection, so the string
// formatting is done once per connection.
type peerCache struct {
	last atomic.Pointer[peerEntry]
}

type peerEntry struct {
	addr  net.Addr
	attrs []attribute.KeyValue
}

func (c *peerCache) get(addr net.Addr, build func(net.Addr) []attribute.KeyValue) []attribute.KeyValue {
	if e := c.last.Load(); e != nil && sameAddr(e.addr, addr) {
		return e.attrs
	}
	e := &peerEntry{addr: addr, attrs: build(addr)}
	c.last.Store(e)
	return e.attrs
}

// sameAddr compares addresses by identity, and only pointers: other net.Addr
// types may not be comparable.
func sameAddr(a, b net.Addr) bool {
	pa, ok := a.(*net.TCPAddr)
	pb, ok2 := b.(*net.TCPAddr)
	return ok && ok2 && pa == pb
}

// peerAttrs returns network.peer.address and, when it has one, .port of addr.
func peerAttrs(addr net.Addr) []attribute.KeyValue {
	host, port, ok := splitAddr(addr)
	if !ok {
		return []attribute.KeyValue{semconv.NetworkPeerAddress(host)}
	}
	return []attribute.KeyValue{semconv.NetworkPeerAddress(host), semconv.NetworkPeerPort(port)}
}
