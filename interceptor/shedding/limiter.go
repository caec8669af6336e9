package shedding

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Limiter sheds the calls a server cannot serve in time, learning its
// capacity from what it observes, with nothing to configure: see the package
// doc for how. Give it to UnaryServerInterceptor and StreamServerInterceptor
// (one Limiter for both, so that unary calls and streams share the
// capacity).
//
// A Limiter is safe for concurrent use. Admitting a call takes a few atomic
// operations and one clock read, no lock and no allocation; once every
// window (100 ms) one call also closes the window and updates the estimate.
// Its zero value is not usable; make one with New.
type Limiter struct {
	// interval is the time between two admissions at the learned rate, in
	// nanoseconds; 0 admits every call.
	interval atomic.Int64
	// tat is the theoretical arrival time of the generic cell rate
	// algorithm: when the next call would be due if calls came exactly at
	// the rate, in nanoseconds since epoch.
	tat atomic.Int64
	// tolerance is how far ahead of now tat may run for a call of each
	// criticality (indexed by Criticality+1) to be admitted.
	tolerance [3]atomic.Int64
	pushback  atomic.Int64 // what a shed call is told to wait, in nanoseconds
	windowEnd atomic.Int64 // when the current window closes, in nanoseconds since epoch

	inflight atomic.Int64
	done     atomic.Int64 // admitted calls ended (unary) or opened (streams) in this window
	timed    atomic.Int64 // unary calls among done
	sum      atomic.Int64 // their summed latency, in nanoseconds
	shed     atomic.Int64 // calls shed in this window

	epoch time.Time
	now   func() int64 // nanoseconds since epoch

	// mu is held by the goroutine closing a window, taken with TryLock so
	// that no call ever waits for it.
	mu          sync.Mutex
	est         estimator            // guarded by mu
	windowStart int64                // guarded by mu
	probe       func() time.Duration // guarded by mu; the scheduling delay since its last call
	cpu         func() time.Duration // guarded by mu; the process's CPU time since its last call, -1 if unknown
	stats       atomic.Pointer[Stats]
}

// Stats is a snapshot of a Limiter's estimate.
type Stats struct {
	// Rate is the admission rate in force, in calls per second; 0 when the
	// limiter is not shedding and admits every call.
	Rate float64
	// Latency is the smoothed latency of admitted unary calls.
	Latency time.Duration
	// QueueDelay is how long the process's goroutines waited for a CPU
	// during the last window (the 90th percentile), and Target the delay
	// above which the server counts as overloaded.
	QueueDelay, Target time.Duration
	// Overloaded says whether the last window was.
	Overloaded bool
	// InFlight is the number of admitted unary calls and streams running.
	InFlight int64
}

// burst is the least number of calls a default call may run ahead of the
// rate by.
const burst = 8

// maxPushback is the most a shed call is told to wait: the limiter stands
// down after a second with neither overload nor a shed call, so a longer
// wait (the latency of long-polling calls, say) would only keep clients
// away from a server that has recovered; a retry that comes too early is
// shed again at little cost.
const maxPushback = time.Second

// New returns a Limiter. It needs no configuration: it starts admitting
// every call and learns when to shed from what it observes.
func New() *Limiter {
	p := newSchedProbe()
	l := newLimiter(p.read, nil)
	l.cpu = newCPUProbe(processCPU).since
	return l
}

// newLimiter returns a Limiter that reads the scheduling delay with probe
// and the time with now (nanoseconds since the Limiter's epoch; nil for the
// monotonic clock).
func newLimiter(probe func() time.Duration, now func() int64) *Limiter {
	l := &Limiter{epoch: time.Now(), probe: probe, est: estimator{procs: float64(runtime.GOMAXPROCS(0))},
		cpu: func() time.Duration { return -1 }}
	l.now = now
	if l.now == nil {
		l.now = func() int64 { return int64(time.Since(l.epoch)) }
	}
	l.windowEnd.Store(int64(windowLength))
	l.stats.Store(&Stats{})
	return l
}

// Stats returns the current estimate.
func (l *Limiter) Stats() Stats {
	s := *l.stats.Load()
	s.InFlight = l.inflight.Load()
	return s
}

// admit decides on a call of criticality c arriving at now by the generic
// cell rate algorithm, returning whether it may go ahead.
func (l *Limiter) admit(now int64, c Criticality) bool {
	return l.admitFrom(context.Background(), now, max(Sheddable, min(c, Critical)))
}

// unknownCriticality is no Criticality: admitFrom has not read it yet.
const unknownCriticality Criticality = -128

// admitFrom is admit for a call whose criticality is c, or, when c is
// unknownCriticality, the one ctx gives, read only when the decision depends
// on it: not when the schedule has room for any call, nor when it has none
// even for a critical one. (Reading the header copies its value: gRPC's
// metadata API gives no other way.)
func (l *Limiter) admitFrom(ctx context.Context, now int64, c Criticality) bool {
	t := l.interval.Load()
	if t == 0 {
		return true
	}
	for {
		tat := l.tat.Load()
		// How far the schedule runs ahead of now; a call is admitted if
		// its criticality tolerates that.
		ahead := max(tat-now, 0)
		if ahead > l.tolerance[Critical+1].Load() {
			return false
		}
		if ahead > l.tolerance[Sheddable+1].Load() {
			if c == unknownCriticality {
				c = CriticalityFrom(ctx)
			}
			if ahead > l.tolerance[c+1].Load() {
				return false
			}
		}
		if l.tat.CompareAndSwap(tat, max(tat, now)+t) {
			return true
		}
	}
}

// shedCall counts a shed call and returns how long its caller should wait
// before trying again.
func (l *Limiter) shedCall() time.Duration {
	l.shed.Add(1)
	return time.Duration(l.pushback.Load())
}

// start counts an admitted call in flight.
func (l *Limiter) start() { l.inflight.Add(1) }

// end counts the end of an admitted unary call that started at start.
func (l *Limiter) end(start, now int64) {
	l.inflight.Add(-1)
	l.done.Add(1)
	l.timed.Add(1)
	l.sum.Add(now - start)
}

// opened counts an admitted stream once its handler has started; endStream
// counts its end.
func (l *Limiter) opened()    { l.done.Add(1) }
func (l *Limiter) endStream() { l.inflight.Add(-1) }

// closeWindow ends the window that ended by now, feeding what it observed
// to the estimator, unless another goroutine is doing it. The window ends
// when it is closed, not at now: the caller may have read now long before
// (descheduled on a loaded machine), and the calls that ended since are in
// the counters.
func (l *Limiter) closeWindow(now int64) {
	if !l.mu.TryLock() {
		return
	}
	defer l.mu.Unlock()
	now = max(now, l.now())
	if now < l.windowEnd.Load() {
		return // closed by another goroutine meanwhile
	}
	w := window{
		length: time.Duration(now - l.windowStart),
		done:   l.done.Swap(0),
		timed:  l.timed.Swap(0),
		sum:    time.Duration(l.sum.Swap(0)),
		shed:   l.shed.Swap(0),
		queue:  l.probe(),
		cpu:    l.cpu(),
	}
	l.windowStart = now
	// GOMAXPROCS as it is now: the runtime follows the container's CPU
	// limit, and the program may set it.
	l.est.procs = float64(runtime.GOMAXPROCS(0))
	l.apply(l.est.next(w), now)
	l.windowEnd.Store(now + int64(windowLength))
}

// apply puts the estimate e in force.
func (l *Limiter) apply(e estimate, now int64) {
	var t int64
	if e.rate > 0 {
		t = max(int64(float64(time.Second)/e.rate), 1)
	}
	if l.interval.Swap(t) == 0 && t != 0 {
		l.tat.Store(now) // start limiting with an empty bucket
	}
	// A default call may run ahead of the rate by the queueing delay the
	// server tolerates, and at least by burst calls, so that calls arriving
	// at random below the rate are not shed; a critical one by four times
	// that; a sheddable one not at all.
	tol := max(int64(e.target), burst*t)
	l.tolerance[Sheddable+1].Store(0)
	l.tolerance[Default+1].Store(tol)
	l.tolerance[Critical+1].Store(4 * tol)
	l.pushback.Store(int64(pushbackFor(e)))
	l.stats.Store(&Stats{Rate: e.rate, Latency: e.latency, QueueDelay: e.queue, Target: e.target, Overloaded: e.overloaded})
}

// pushbackFor is what a shed call is told to wait under e: the latency the
// server shows (the calls' latency plus the scheduling delay), at least
// 1 ms and at most maxPushback, whatever the observations were.
func pushbackFor(e estimate) time.Duration {
	clamp := func(d time.Duration) time.Duration { return min(max(d, 0), maxPushback) }
	return max(clamp(clamp(e.latency)+clamp(e.queue)), time.Millisecond)
}
