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
	tag     uint64    // tag of keys stored under tau, below tagCount
	taus    *tauTable // the tau of every tag; nil: every tag is tau
}

// tagCount is how many decay times a key's tag tells apart: the tags of the
// last 255 changes of DecayTime stay decodable.
const tagCount = 1 << 8

// tauTable is a policy's decay time of each key tag, as float64 bits. A
// policy writes an entry before it publishes params with that tag.
type tauTable [tagCount]atomic.Uint64

// tauOf returns the decay time that keys tagged tag are stored under.
func (prm *params) tauOf(tag uint64) float64 {
	if prm.taus == nil || tag == prm.tag {
		return prm.tau
	}
	return math.Float64frombits(prm.taus[tag].Load())
}

// encode returns the key of estimate est (ns) at now under prm's tau, tagged.
func (prm *params) encode(est float64, now int64) uint64 {
	k := math.Log(max(est, 1)) + float64(now)/prm.tau
	return math.Float64bits(k)&^(tagCount-1) | prm.tag
}

// decode returns the estimate at now that key k holds, whatever tau it was
// stored under.
func (prm *params) decode(k uint64, now int64) float64 {
	return math.Exp(math.Float64frombits(k) - float64(now)/prm.tauOf(k&(tagCount-1)))
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
//
// A key is only meaningful with the τ it was stored under, so the low 8 of
// the 52 mantissa bits of every key carry a tag naming that τ. When
// DecayTime changes, the policy rescales every live key to the new τ
// (rescale), one change after the other; an observation that raced with the
// change decodes its key with the τ of its tag and stores under params that
// were current when it read the key (see tryObserve), so a tag is never read
// with another change's τ, however many changes an observation overlaps.
// Updates are compare-and-swap loops, so none is lost to a rescale.
//
// Precision: the tag leaves a key 44 mantissa bits, so ln est is stored to
// within |key|·2^-44, and the estimate to that relative error. The key grows
// with t/τ, t being the policy clock's time since the process loaded the
// balancer packages, so the error grows with uptime and with a shorter τ:
// about (uptime/τ)·2^-44, that is 2·10^-7 after a year at the default 10s and
// 2·10^-4 after ten years at MinDecayTime; far below the noise of a latency
// sample.
type stats struct {
	inflight atomic.Int64
	key      atomic.Uint64 // float64 bits of ln(estimate in ns at t) + t/τ, tagged
	stamp    atomic.Int64  // Clock time of the last observation
	params   *atomic.Pointer[params]
	done     func(balancer.DoneInfo) // Done of picks whose latency is not sampled
	_        [24]byte                // to 64 bytes: one size class, one cache line each
}

// newStats returns stats whose estimate at now is est nanoseconds.
func newStats(prm *atomic.Pointer[params], est float64, now int64) *stats {
	s := &stats{params: prm}
	s.done = s.finish
	s.key.Store(prm.Load().encode(est, now))
	s.stamp.Store(now)
	return s
}

// logKey returns ln est(t) + t/τ (with the tag in its last bits).
func (s *stats) logKey() float64 { return math.Float64frombits(s.key.Load()) }

// estimate returns the decayed latency estimate at now, in nanoseconds.
func (s *stats) estimate(now int64) float64 {
	return s.params.Load().decode(s.key.Load(), now)
}

// observe folds a response that took rtt nanoseconds, seen at now, into the
// estimate.
func (s *stats) observe(rtt float64, now int64) {
	for !s.tryObserve(s.params.Load(), rtt, now) {
	}
	s.stamp.Store(now)
}

// tryObserve folds the response in under prm, params read before the key,
// and reports whether it stored the result. It stores nothing when the
// params changed before it read the key: that key may carry a tag prm cannot
// read (after tagCount changes of DecayTime prm's own tag names another
// decay time). Once the key is read under current params, a change before
// the store either rescaled the key, so the compare-and-swap fails, or will
// rescale it after the store, decoding the tag prm wrote, which no later
// change can reuse before that rescale is done.
func (s *stats) tryObserve(prm *params, rtt float64, now int64) bool {
	k := s.key.Load()
	if s.params.Load() != prm {
		return false
	}
	w := 1.0
	if d := now - s.stamp.Load(); d > 0 {
		w = math.Exp(-float64(d) / prm.tau)
	}
	cur := prm.decode(k, now)
	next := rtt
	if rtt < cur {
		next = cur + (rtt-cur)*(1-w)
	}
	return s.key.CompareAndSwap(k, prm.encode(next, now))
}

// rescale stores the key again under prm's tau, keeping the estimate at now,
// unless it is already stored under it.
func (s *stats) rescale(prm *params, now int64) {
	for {
		k := s.key.Load()
		if k&(tagCount-1) == prm.tag || s.key.CompareAndSwap(k, prm.encode(prm.decode(k, now), now)) {
			return
		}
	}
}

// finish is the Done of a pick whose latency is not sampled: it ends the
// in-flight count and still charges the error penalty.
func (s *stats) finish(info balancer.DoneInfo) {
	s.release()
	if info.Err == nil {
		return
	}
	if c := status.Code(info.Err); c != codes.ResourceExhausted && c != codes.Unavailable {
		return
	}
	if prm := s.params.Load(); prm.penalty > 0 {
		s.observe(prm.penalty, prm.now())
	}
}

// release ends one RPC's in-flight count. A Done called more often than
// gRPC does (see call) would take the count below zero, making the endpoint
// look idle for good; a release that does is undone, so the count never
// stays below zero and is zero again once the endpoint is idle. Pick reads
// a count that is below zero for a moment as zero (logCount).
func (s *stats) release() {
	if s.inflight.Add(-1) < 0 {
		s.inflight.Add(1)
	}
}

// logTable holds ln(k) for small in-flight counts.
var logTable = func() (t [256]float64) {
	for k := 1; k < len(t); k++ {
		t[k] = math.Log(float64(k))
	}
	return t
}()

// logCount returns ln(k) for k >= 1, and 0 (ln 1) for smaller k.
func logCount(k int64) float64 {
	if uint64(k) < uint64(len(logTable)) {
		return logTable[k] // logTable[0] is 0
	}
	if k < 1 {
		return 0
	}
	return math.Log(float64(k))
}
