package breaker

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// State changes happen inside the breaker, under its mutex. Calling
// anything from there that may come back into the breaker would deadlock,
// so record only queues the change; every path out of the
// breaker (Allow, done, State) then calls flush, which delivers the queue on
// the caller's goroutine with no breaker lock held.

// record queues a state change. It runs under e.mu and must not call out.
func (e *entry) record(_ string, from, to State) {
	e.qmu.Lock()
	e.changes = append(e.changes, change{from, to})
	e.pending.Add(1)
	e.qmu.Unlock()
}

// flush delivers queued changes. One goroutine delivers at a time, in
// order; a flush that finds another delivering leaves its changes to it,
// which re-checks the queue before it stops. So a callback that triggers a
// further change (re-entry) sees it delivered after it returns, not inside.
func (e *entry) flush(ctx context.Context) {
	if e.pending.Load() != 0 { // the only cost on the usual path
		e.flushSlow(ctx)
	}
}

func (e *entry) flushSlow(ctx context.Context) {
	for e.pending.Load() != 0 && e.draining.CompareAndSwap(false, true) {
		e.drain(ctx)
	}
}

// drain delivers until the queue is empty. The caller holds draining; drain
// gives it back even if a callback panics.
func (e *entry) drain(ctx context.Context) {
	defer e.draining.Store(false)
	for {
		c, ok := e.pop()
		if !ok {
			return
		}
		e.deliver(ctx, c)
	}
}

func (e *entry) pop() (change, bool) {
	e.qmu.Lock()
	defer e.qmu.Unlock()
	if len(e.changes) == 0 {
		return change{}, false
	}
	c := e.changes[0]
	e.changes = e.changes[1:]
	e.pending.Add(-1)
	return c, true
}

func (e *entry) deliver(ctx context.Context, c change) {
	logger.Infof("breaker: %q: %v -> %v", e.key, c.from, c.to)
	e.g.metrics.stateChanged(ctx, e.key, c)
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("grpckit.breaker.state_change", trace.WithAttributes(
			attribute.String(attrKey, e.key),
			attribute.String("grpckit.breaker.from", c.from.String()),
			attribute.String("grpckit.breaker.to", c.to.String()),
		))
	}
	if f := e.g.opts.onStateChange; f != nil {
		f(e.key, c.from, c.to)
	}
}

// rejected reports a call the breaker refused.
func (e *entry) rejected(ctx context.Context, method string, state State) {
	if logger.V(2) {
		logger.Infof("breaker: %q: %s rejected, %v", e.key, method, state)
	}
	e.g.metrics.rejected(ctx, e.key, state)
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("grpckit.breaker.rejected", trace.WithAttributes(
			attribute.String(attrKey, e.key),
			attribute.String(attrState, state.String()),
		))
	}
}

const (
	meterName = "github.com/grpckit/grpckit/interceptor/breaker"
	attrKey   = "grpckit.breaker.key"
	attrState = "grpckit.breaker.state"
)

// metrics are the Group's instruments. Instrument errors are handed to
// otel.Handle; the instruments returned with them still work as no-ops.
type metrics struct {
	state       metric.Int64Gauge
	transitions metric.Int64Counter
	rejections  metric.Int64Counter
}

func newMetrics(mp metric.MeterProvider) *metrics {
	m := mp.Meter(meterName)
	var ms metrics
	var err error
	ms.state, err = m.Int64Gauge("grpckit.breaker.state",
		metric.WithDescription("Breaker state per key: 0 closed, 1 half-open, 2 open."))
	handle(err)
	ms.transitions, err = m.Int64Counter("grpckit.breaker.transitions",
		metric.WithDescription("Breaker state changes."))
	handle(err)
	ms.rejections, err = m.Int64Counter("grpckit.breaker.rejections",
		metric.WithDescription("Calls refused by an open or saturated half-open breaker."))
	handle(err)
	return &ms
}

func handle(err error) {
	if err != nil {
		otel.Handle(err)
	}
}

func (m *metrics) stateChanged(ctx context.Context, key string, c change) {
	m.state.Record(ctx, int64(c.to), metric.WithAttributes(attribute.String(attrKey, key)))
	m.transitions.Add(ctx, 1, metric.WithAttributes(
		attribute.String(attrKey, key),
		attribute.String("grpckit.breaker.from", c.from.String()),
		attribute.String("grpckit.breaker.to", c.to.String()),
	))
}

func (m *metrics) rejected(ctx context.Context, key string, s State) {
	m.rejections.Add(ctx, 1, metric.WithAttributes(
		attribute.String(attrKey, key),
		attribute.String(attrState, s.String()),
	))
}
