package p2c

import (
	"math"
	"sync/atomic"
)

// stats is the load of one endpoint: requests in flight and a peak-EWMA
// latency estimate. The balancer owns it, so it survives picker rebuilds; it
// is updated with atomics from Pick and Done, never under a lock.
//
// The estimate is the peak of recent latencies decaying towards zero: read at
// time t, it is est × e^-(t−stamp)/τ. A response slower than the current
// estimate replaces it at once (so a backend that turns slow is avoided after
// one slow answer); a faster one pulls it down with weight 1 − e^-Δ/τ, Δ being
// the time since the previous update. Decay towards zero makes an endpoint
// that gets no traffic look cheaper as time passes, so p2c probes it again.
type stats struct {
	inflight atomic.Int64
	est      atomic.Uint64 // float64 bits: latency estimate in nanoseconds at stamp
	stamp    atomic.Int64  // Clock time of the last update
}

// newStats returns stats whose estimate at now is est.
func newStats(est float64, now int64) *stats {
	s := &stats{}
	s.est.Store(math.Float64bits(est))
	s.stamp.Store(now)
	return s
}

// estimate returns the decayed latency estimate at now, in nanoseconds.
func (s *stats) estimate(now int64, tau float64) float64 {
	est := math.Float64frombits(s.est.Load())
	if d := now - s.stamp.Load(); d > 0 {
		est *= math.Exp(-float64(d) / tau)
	}
	return est
}

// observe folds a response that took rtt nanoseconds, seen at now, into the
// estimate.
func (s *stats) observe(rtt float64, now int64, tau float64) {
	for {
		oldBits, last := s.est.Load(), s.stamp.Load()
		w := 1.0
		if d := now - last; d > 0 {
			w = math.Exp(-float64(d) / tau)
		}
		cur := math.Float64frombits(oldBits) * w
		next := rtt
		if rtt < cur {
			next = cur + (rtt-cur)*(1-w)
		}
		if s.est.CompareAndSwap(oldBits, math.Float64bits(next)) {
			s.stamp.Store(max(now, last))
			return
		}
	}
}
