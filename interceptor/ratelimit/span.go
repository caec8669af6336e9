package ratelimit

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Span event and attribute names of the limiter's decisions. The key is
// never recorded: it may be an API key.
const (
	spanEvent        = "grpckit.ratelimit"
	attrDecision     = "grpckit.ratelimit.decision"
	attrWaitMS       = "grpckit.ratelimit.wait_ms"
	attrRetryAfterMS = "grpckit.ratelimit.retry_after_ms"
	decisionAdmitted = "admitted"
	decisionWaited   = "waited"
	decisionRejected = "rejected"
	decisionPushback = "held_by_pushback"
)

// recordAdmit notes an admission on the span in ctx, if it is recording.
func recordAdmit(ctx context.Context, waited time.Duration) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	decision := decisionAdmitted
	if waited > 0 {
		decision = decisionWaited
	}
	attrs := []attribute.KeyValue{
		attribute.String(attrDecision, decision),
		attribute.Int64(attrWaitMS, waited.Milliseconds()),
	}
	span.SetAttributes(attrs[0])
	span.AddEvent(spanEvent, trace.WithAttributes(attrs...))
}

// recordReject notes a rejection on the span in ctx, if it is recording.
func recordReject(ctx context.Context, decision string, retry time.Duration) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{
		attribute.String(attrDecision, decision),
		attribute.Int64(attrRetryAfterMS, retry.Milliseconds()),
	}
	span.SetAttributes(attrs[0])
	span.AddEvent(spanEvent, trace.WithAttributes(attrs...))
}
