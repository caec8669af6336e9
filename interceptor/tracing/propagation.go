package tracing

import (
	"context"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc/metadata"
)

// noPropagation is handed to otelgrpc's server handler: the wrapper has
// already extracted the remote context, so otelgrpc need not parse it again.
var noPropagation = propagation.NewCompositeTextMapPropagator()

// appendCarrier collects what a propagator injects as key/value pairs, so
// they can be appended to the outgoing metadata without copying it. The
// carriers are pooled, with room for traceparent, tracestate and baggage,
// so that injecting allocates only what the propagator and the metadata
// need.
type appendCarrier struct {
	kv  []string
	buf [6]string
}

var carriers = sync.Pool{New: func() any {
	c := &appendCarrier{}
	c.kv = c.buf[:0]
	return c
}}

func (c *appendCarrier) Get(string) string { return "" }
func (c *appendCarrier) Keys() []string    { return nil }

// Set replaces the value of a key set before, as metadata.MD.Set does for
// otelgrpc: a propagator that sets a key twice sends it once.
func (c *appendCarrier) Set(key, value string) {
	for i := 0; i < len(c.kv); i += 2 {
		if strings.EqualFold(c.kv[i], key) {
			c.kv[i+1] = value
			return
		}
	}
	c.kv = append(c.kv, key, value)
}

// inject writes the span context and baggage of ctx into its outgoing
// metadata. Keys the caller already set are replaced, as otelgrpc does.
func inject(ctx context.Context, p propagation.TextMapPropagator) context.Context {
	c := carriers.Get().(*appendCarrier)
	defer func() {
		clear(c.buf[:])
		c.kv = c.buf[:0]
		carriers.Put(c)
	}()
	p.Inject(ctx, c)
	kv := c.kv
	if len(kv) == 0 {
		return ctx
	}
	if !presentOutgoing(ctx, kv) {
		// AppendToOutgoingContext copies kv.
		return metadata.AppendToOutgoingContext(ctx, kv...)
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	for i := 0; i < len(kv); i += 2 {
		md.Set(kv[i], kv[i+1])
	}
	return metadata.NewOutgoingContext(ctx, md)
}

// presentOutgoing reports whether any key of kv is already in the outgoing
// metadata of ctx.
func presentOutgoing(ctx context.Context, kv []string) bool {
	for i := 0; i < len(kv); i += 2 {
		if len(metadata.ValueFromOutgoingContext(ctx, kv[i])) > 0 {
			return true
		}
	}
	return false
}

// incomingCarrier reads single keys of the incoming metadata of a context
// without copying the whole map. The carriers are pooled, so extracting
// allocates only what the propagator and the metadata need.
type incomingCarrier struct{ ctx context.Context }

var incomingCarriers = sync.Pool{New: func() any { return &incomingCarrier{} }}

func (c *incomingCarrier) Get(key string) string {
	if v := metadata.ValueFromIncomingContext(c.ctx, key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c *incomingCarrier) Set(string, string) {}

func (c *incomingCarrier) Keys() []string {
	md, _ := metadata.FromIncomingContext(c.ctx)
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	return keys
}

// extract returns ctx carrying the remote span context and baggage found in
// its incoming metadata.
func extract(ctx context.Context, p propagation.TextMapPropagator) context.Context {
	c := incomingCarriers.Get().(*incomingCarrier)
	c.ctx = ctx
	out := p.Extract(ctx, c)
	c.ctx = nil
	incomingCarriers.Put(c)
	return out
}
