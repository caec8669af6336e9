package ratelimit

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"
	"weak"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metric instrument and attribute names. The key is never an attribute: it
// may be an API key, and its set is unbounded.
const (
	meterName = "github.com/grpckit/grpckit/interceptor/ratelimit"

	MetricAdmitted    = "grpckit.ratelimit.admitted"
	MetricRejected    = "grpckit.ratelimit.rejected"
	MetricWait        = "grpckit.ratelimit.wait.duration"
	MetricKeys        = "grpckit.ratelimit.keys"
	MetricKeysEvicted = "grpckit.ratelimit.keys.evicted"

	// AttrSide is "server" or "client".
	AttrSide = "grpckit.ratelimit.side"
	// AttrReason says why a request was rejected ("limit": the
	// interceptor's limiter; "pushback": a client honouring a server's
	// pushback) or why a key was evicted ("idle"; "capacity": the
	// WithMaxKeys bound).
	AttrReason = "grpckit.ratelimit.reason"
)

// MeterProviderOption sets where metrics are recorded; it configures
// limiters and interceptors alike.
type MeterProviderOption struct{ mp metric.MeterProvider }

// WithMeterProvider sets where an interceptor or a limiter records its
// metrics (default otel.GetMeterProvider(), read when it is made). An
// interceptor records:
//
//   - grpckit.ratelimit.admitted, counter {request}: requests (calls, and
//     messages limited by WithPerMessage) let through, waited for or not;
//   - grpckit.ratelimit.rejected, counter {request}: requests refused, by
//     grpckit.ratelimit.reason (limit, pushback);
//   - grpckit.ratelimit.wait.duration, histogram in s: how long admitted
//     requests waited (WithWait), recorded for those that waited only;
//
// each with grpckit.ratelimit.side (server, client). A TokenBucket or
// SlidingWindow records, summed over the limiters of a provider:
//
//   - grpckit.ratelimit.keys, up-down counter {key}: keys held;
//   - grpckit.ratelimit.keys.evicted, counter {key}: keys forgotten, by
//     grpckit.ratelimit.reason (idle, capacity).
//
// Those two are observed at collection time through a callback registered
// while the limiter is reachable (the provider holds it weakly). Recording
// costs no allocation and takes no lock of this package's; a noop provider
// costs nothing.
func WithMeterProvider(mp metric.MeterProvider) MeterProviderOption {
	return MeterProviderOption{mp: mp}
}

func (o MeterProviderOption) apply(io *options) {
	if o.mp != nil {
		io.meterProvider = o.mp
	}
}

func (o MeterProviderOption) applyLimiter(lo *limiterOptions) {
	if o.mp != nil {
		lo.meterProvider = o.mp
	}
}

// keyHolder is a limiter whose keys can be counted: TokenBucket and
// SlidingWindow.
type keyHolder interface {
	keyStats() (held int, idleEvicted, capacityEvicted uint64)
}

// gateMetrics holds a gate's instruments and their options, made once so
// that recording allocates nothing.
type gateMetrics struct {
	admitted     metric.Int64Counter
	rejected     metric.Int64Counter
	wait         metric.Float64Histogram
	sideOpts     []metric.AddOption
	waitOpts     []metric.RecordOption
	limitOpts    []metric.AddOption
	pushbackOpts []metric.AddOption
}

func newGateMetrics(mp metric.MeterProvider, client bool) *gateMetrics {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	side := "server"
	if client {
		side = "client"
	}
	m := mp.Meter(meterName)
	gm := &gateMetrics{}
	var err error
	gm.admitted, err = m.Int64Counter(MetricAdmitted, metric.WithUnit("{request}"),
		metric.WithDescription("Requests the rate limiter let through."))
	logMetricErr(err)
	gm.rejected, err = m.Int64Counter(MetricRejected, metric.WithUnit("{request}"),
		metric.WithDescription("Requests the rate limiter refused."))
	logMetricErr(err)
	gm.wait, err = m.Float64Histogram(MetricWait, metric.WithUnit("s"),
		metric.WithDescription("How long admitted requests waited for the rate limiter."))
	logMetricErr(err)
	sideAttr := attribute.String(AttrSide, side)
	set := attribute.NewSet(sideAttr)
	gm.sideOpts = []metric.AddOption{metric.WithAttributeSet(set)}
	gm.waitOpts = []metric.RecordOption{metric.WithAttributeSet(set)}
	gm.limitOpts = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(sideAttr, attribute.String(AttrReason, "limit")))}
	gm.pushbackOpts = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(sideAttr, attribute.String(AttrReason, "pushback")))}
	return gm
}

// registerKeyMetrics observes kh's keys at collection time. The callback
// holds kh weakly and is unregistered once kh is collected, so a provider
// (the global one by default) does not keep limiters alive.
func registerKeyMetrics[T any, P interface {
	*T
	keyHolder
}](mp metric.MeterProvider, kh P) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(meterName)
	keys, err := m.Int64ObservableUpDownCounter(MetricKeys, metric.WithUnit("{key}"),
		metric.WithDescription("Keys the rate limiter holds state for."))
	logMetricErr(err)
	evicted, err := m.Int64ObservableCounter(MetricKeysEvicted, metric.WithUnit("{key}"),
		metric.WithDescription("Keys the rate limiter forgot."))
	logMetricErr(err)
	idleOpt := metric.WithAttributeSet(attribute.NewSet(attribute.String(AttrReason, "idle")))
	capOpt := metric.WithAttributeSet(attribute.NewSet(attribute.String(AttrReason, "capacity")))
	w := weak.Make((*T)(kh))
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		l := P(w.Value())
		if l == nil {
			return nil
		}
		held, idle, capacity := l.keyStats()
		o.ObserveInt64(keys, int64(held))
		o.ObserveInt64(evicted, int64(idle), idleOpt)
		o.ObserveInt64(evicted, int64(capacity), capOpt)
		return nil
	}, keys, evicted)
	logMetricErr(err)
	if err == nil {
		runtime.AddCleanup((*T)(kh), func(reg metric.Registration) { _ = reg.Unregister() }, reg)
	}
}

func logMetricErr(err error) {
	if err != nil {
		logger.Warningf("ratelimit: metrics: %v", err)
	}
}

func (gm *gateMetrics) recordAdmit(ctx context.Context, waited time.Duration) {
	gm.admitted.Add(ctx, 1, gm.sideOpts...)
	if waited > 0 {
		gm.wait.Record(ctx, waited.Seconds(), gm.waitOpts...)
	}
}

func (gm *gateMetrics) recordReject(ctx context.Context, pushback bool) {
	if pushback {
		gm.rejected.Add(ctx, 1, gm.pushbackOpts...)
		return
	}
	gm.rejected.Add(ctx, 1, gm.limitOpts...)
}

// evictions counts a store's evicted keys.
type evictions struct {
	idle, capacity atomic.Uint64
}

func (tb *TokenBucket) keyStats() (int, uint64, uint64) {
	return tb.keys.len(), tb.keys.evicted.idle.Load(), tb.keys.evicted.capacity.Load()
}

func (sw *SlidingWindow) keyStats() (int, uint64, uint64) {
	return sw.keys.len(), sw.keys.evicted.idle.Load(), sw.keys.evicted.capacity.Load()
}
