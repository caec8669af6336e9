package tracing

import (
	"context"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"
)

// spanKey marks an RPC that otelgrpc handles; its value is the span the
// wrapper started for the RPC before deciding to call otelgrpc.
type spanKey struct{}

func withSpan(ctx context.Context, span trace.Span) context.Context {
	return context.WithValue(ctx, spanKey{}, span)
}

func spanFrom(ctx context.Context) trace.Span {
	span, _ := ctx.Value(spanKey{}).(trace.Span)
	return span
}

// handoverProvider is the TracerProvider given to otelgrpc. Its tracer does
// not start spans: it hands otelgrpc the span the wrapper already started
// (and sampled) for the RPC, after giving it otelgrpc's name, attributes and
// links.
type handoverProvider struct{ embedded.TracerProvider }

func (handoverProvider) Tracer(string, ...trace.TracerOption) trace.Tracer {
	return handoverTracer{}
}

type handoverTracer struct{ embedded.Tracer }

var orphan = noop.Span{}

func (handoverTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	span := spanFrom(ctx)
	if span == nil {
		// Not reached: otelgrpc only sees RPCs the wrapper started a span
		// for. Leave the context alone rather than end someone's span.
		return ctx, orphan
	}
	if span.IsRecording() {
		cfg := trace.NewSpanStartConfig(opts...)
		span.SetName(name)
		span.SetAttributes(cfg.Attributes()...)
		for _, l := range cfg.Links() {
			span.AddLink(l)
		}
	}
	return trace.ContextWithSpan(ctx, span), span
}
