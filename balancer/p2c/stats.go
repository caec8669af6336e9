package p2c

import (
	"math"
	"sync/atomic"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/balancer/internal/shard"
)

// params are what a policy's stats and pickers share: the configuration in
// nanoseconds and the clock. A policy replaces them as a whole on a config
// change.
type params struct {
	tau     float64 // DecayTime
	penalty float64 // ErrorPenalty
	now     shard.Clock
}

// stats is the load of one endpoint: requests in flight and a peak-EWMA
// latency estimate. The balancer owns it, so it survives picker rebuilds; it
// is updated with atomics from Pick and Done, never under a lock.
//
// The estimate is the peak of recent latencies decaying towards zero: est(t) =
// est(t0)·e^-(t−t0)/τ. A response slower than the current estimate replaces it
// at once (a backend that turns slow is avoided after one slow answer); a
// faster one pulls it down with weight 1 − e^-Δ/τ, Δ being the time since the
// previous observation. Decay towards zero makes an endpoint that gets no
// traffic look cheaper as time passes, so p2c probes it again.
//
// The estimate is stored as key = ln est(t) + t/τ, which is the same at every
// t. Comparing two endpoints' decayed costs then needs no clock and no exp:
// ln cost = key + ln(in flight + 1) − ln weight, with the common −now/τ
// cancelled out. Estimates below 1ns are stored as 1ns.
type stats struct {
	inflight atomic.Int64
	key      atomic.Uint64 // float64 bits of ln(estimate in ns at t) + t/τ
	stamp    atomic.Int64  // Clock time of the last observation
	params   *atomic.Pointer[params]
	done     func(balancer.DoneInfo) // Done of picks whose latency is not sampled
	_        [24]byte                // to 64 bytes: one size class, one cache line each
}

// newStats returns stats whose estimate at now is est nanoseconds.
func newStats(prm *atomic.Pointer[params], est float64, now int64) *stats {
	s := &stats{params: prm}
	s.done = s.finish
	s.store(est, now, prm.Load().tau)
	s.stamp.Store(now)
	return s
}

func (s *stats) store(est float64, now int64, tau float64) {
	s.key.Store(math.Float64bits(math.Log(max(est, 1)) + float64(now)/tau))
}

// logKey returns ln est(t) + t/τ.
func (s *stats) logKey() float64 { return math.Float64frombits(s.key.Load()) }

// estimate returns the decayed latency estimate at now, in nanoseconds.
func (s *stats) estimate(now int64, tau float64) float64 {
	return math.Exp(s.logKey() - float64(now)/tau)
}

// observe folds a response that took rtt nanoseconds, seen at now, into the
// estimate. Concurrent observations may race; one of them wins, which is as
// good an estimate.
func (s *stats) observe(rtt float64, now int64, tau float64) {
	w := 1.0
	if d := now - s.stamp.Load(); d > 0 {
		w = math.Exp(-float64(d) / tau)
	}
	cur := s.estimate(now, tau)
	next := rtt
	if rtt < cur {
		next = cur + (rtt-cur)*(1-w)
	}
	s.store(next, now, tau)
	s.stamp.Store(now)
}

// finish is the Done of a pick whose latency is not sampled: it ends the
// in-flight count and still charges the error penalty.
func (s *stats) finish(info balancer.DoneInfo) {
	s.inflight.Add(-1)
	if info.Err == nil {
		return
	}
	if c := status.Code(info.Err); c == codes.ResourceExhausted || c == codes.Unavailable {
		prm := s.params.Load()
		s.observe(prm.penalty, prm.now(), prm.tau)
	}
}

// logTable holds ln(k) for small in-flight counts.
var logTable = func() (t [256]float64) {
	for k := 1; k < len(t); k++ {
		t[k] = math.Log(float64(k))
	}
	return t
}()

// logCount returns ln(k) for k >= 1.
func logCount(k int64) float64 {
	if k < int64(len(logTable)) {
		return logTable[k]
	}
	return math.Log(float64(k))
}
