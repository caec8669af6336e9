package tracing

import (
	"context"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"
)

// rpcState marks an RPC that otelgrpc handles, and carries the span the
// wrapper started for it before deciding to call otelgrpc.
type rpcState struct {
	span trace.Span
}

type stateKey struct{}

func stateFrom(ctx context.Context) *rpcState {
	st, _ := ctx.Value(stateKey{}).(*rpcState)
	return st
}

// handoverProvider is the TracerProvider given to otelgrpc. Its tracer does
// not start spans: it hands otelgrpc the span the wrapper already started
// (and sampled) for the RPC, with otelgrpc's name, attributes and links.
type handoverProvider struct{ embedded.TracerProvider }

func (handoverProvider) Tracer(string, ...trace.TracerOption) trace.Tracer {
	return handoverTracer{}
}

type handoverTracer struct{ embedded.Tracer }

var orphan = noop.Span{}

func (handoverTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	st := stateFrom(ctx)
	if st == nil {
		// Not reached: otelgrpc only sees RPCs the wrapper started a span
		// for. Leave the context alone rather than end someone's span.
		return ctx, orphan
	}
	if st.span.IsRecording() {
		cfg := trace.NewSpanStartConfig(opts...)
		st.span.SetName(name)
		st.span.SetAttributes(cfg.Attributes()...)
		for _, l := range cfg.Links() {
			st.span.AddLink(l)
		}
	}
	return trace.ContextWithSpan(ctx, st.span), st.span
}
