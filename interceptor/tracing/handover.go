package tracing

import (
	"context"
	"os"
	"strings"

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
// (and sampled) for the RPC. When otelgrpc may use other attributes than the
// wrapper started the span with (an OTEL_SEMCONV_STABILITY_OPT_IN mode), it
// also applies otelgrpc's name, attributes and links to the span.
type handoverProvider struct {
	embedded.TracerProvider
	apply bool
}

func (p handoverProvider) Tracer(string, ...trace.TracerOption) trace.Tracer {
	return handoverTracer{apply: p.apply}
}

type handoverTracer struct {
	embedded.Tracer
	apply bool
}

var orphan = noop.Span{}

func (t handoverTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	span := spanFrom(ctx)
	if span == nil {
		// Not reached: otelgrpc only sees RPCs the wrapper started a span
		// for. Leave the context alone rather than end someone's span.
		return ctx, orphan
	}
	if t.apply && span.IsRecording() {
		cfg := trace.NewSpanStartConfig(opts...)
		span.SetName(name)
		span.SetAttributes(cfg.Attributes()...)
		for _, l := range cfg.Links() {
			span.AddLink(l)
		}
	}
	return trace.ContextWithSpan(ctx, span), span
}

// otelgrpcDefaultAttributes reports whether otelgrpc gives spans the
// attributes start.go starts them with: in its default semantic convention
// mode, which OTEL_SEMCONV_STABILITY_OPT_IN=rpc/old or rpc/dup change.
func otelgrpcDefaultAttributes() bool {
	for p := range strings.SplitSeq(os.Getenv("OTEL_SEMCONV_STABILITY_OPT_IN"), ",") {
		if p = strings.TrimSpace(p); p == "rpc/old" || p == "rpc/dup" {
			return false
		}
	}
	return true
}
