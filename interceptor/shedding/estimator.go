package shedding

import (
	"math"
	"time"
)

// The estimator's constants. None is a capacity or a rate: they say how
// fast to react, and the rate itself is learned.
const (
	// windowLength is how often the estimator looks at what it observed.
	windowLength = 100 * time.Millisecond
	// minTarget is the least queueing delay taken for overload, so that the
	// scheduler's ordinary jitter does not shed calls of microseconds.
	minTarget = time.Millisecond
	// drainTime is how fast a queue found above the target is drained: the
	// admission rate drops below the throughput by the queue's excess over
	// drainTime.
	drainTime = 500 * time.Millisecond
	// calmWindows is how many windows in a row with neither overload nor a
	// shed call end the limiting.
	calmWindows = 10
	// The bounds of one window's change of the rate.
	minDecrease = 0.5
	// maxIncrease is the growth of the rate in a window without a queue;
	// with a queue just under the target it grows by nothing.
	maxIncrease = 0.2
	// minRate keeps the admission rate from reaching 0.
	minRate = 1.0
	// costFactor caps a call's cost at this many times its CPU time.
	costFactor = 4
	// minServiceSample is the least number of calls ended in a window for
	// its CPU time per call to update the estimate of a call's cost.
	minServiceSample = 5
	// startWindows is how many overloaded windows in a row start the
	// shedding: one alone is more often a pause of the machine than a queue.
	startWindows = 2
	// minBusy is the least share of the CPUs the process must keep busy
	// (its CPU time over the window, or where unknown the admitted calls
	// in flight by Little's law, throughput × latency, over GOMAXPROCS) for a queue
	// to count as theirs: a server whose few calls wait behind other work
	// (another process's, a batch job in the same process) gains nothing from
	// shedding them.
	minBusy = 0.25
)

// window is what the limiter observed during one estimation window.
type window struct {
	length time.Duration // how long it lasted
	done   int64         // calls that ended (unary) or opened (streams) after admission
	timed  int64         // unary calls among done, whose latency is summed in latency
	sum    time.Duration // summed latency of the timed calls
	shed   int64         // calls shed
	queue  time.Duration // how long the process's goroutines waited for a CPU (90th percentile)
	cpu    time.Duration // CPU time the process used; 0 or less if unknown
}

// estimate is what the limiter enforces until the next window.
type estimate struct {
	rate       float64       // admitted calls per second; 0 admits every call
	latency    time.Duration // smoothed latency of admitted unary calls
	queue      time.Duration // the last window's scheduling delay
	target     time.Duration // the scheduling delay above which the server is overloaded
	overloaded bool          // the last window's delay was above target
}

// estimator learns the admission rate from one window to the next. It is
// pure logic, not safe for concurrent use: the limiter feeds it from the one
// goroutine that closes a window.
//
// The server is overloaded when the slowest tenth of its goroutines wait for
// a CPU longer than a call costs (its CPU time, or where unknown its
// latency; at least minTarget), and the process keeps at least minBusy of
// the CPUs busy: calls then queue up for a CPU. Once it has been for startWindows windows, and while it
// is, the rate is set to the
// throughput just measured (Little's law: what the server completes is its
// capacity), less enough to drain the queue within drainTime. While it is
// not and calls are still being shed, the rate grows, by up to 20 % a window
// the shorter the queue is than the target; after
// calmWindows windows with neither overload nor a shed call the limiter
// stands down and admits every call again.
type estimator struct {
	procs      float64 // GOMAXPROCS; 0 leaves out the minBusy check
	est        estimate
	service    time.Duration // smoothed CPU time per call; 0 while unknown
	throughput float64       // smoothed calls per second
	calm       int           // windows in a row with neither overload nor a shed call
	over       int           // overloaded windows in a row
}

// next takes one window's observations and returns the new estimate.
func (e *estimator) next(w window) estimate {
	if w.length <= 0 {
		return e.est
	}
	thr := float64(w.done) / w.length.Seconds()
	e.throughput = smooth(e.throughput, thr, 0.5)
	if w.timed > 0 {
		lat := max(w.sum/time.Duration(w.timed), 0) // a sum that wrapped reads 0
		e.est.latency = toDuration(smooth(float64(e.est.latency), float64(lat), 0.3))
	}
	if w.cpu > 0 && w.done >= minServiceSample {
		svc := w.cpu / time.Duration(w.done)
		e.service = toDuration(smooth(float64(e.service), float64(svc), 0.3))
	}
	e.est.queue = w.queue
	// A call's cost is its latency, the cost of a call that keeps its CPU
	// until it ends, but at most costFactor times the CPU time it takes
	// where the process's CPU time is known: a call longer than the
	// scheduler's time slice, or one that waits on its way (for the
	// transport, a lock), is preempted and queues again, so its latency
	// grows with the queue and a target that followed it would never be
	// passed. Below that cap the latency stays the target: a queue of a
	// call's CPU time or two is what random arrivals make at half load.
	cost := e.est.latency
	if e.service > 0 {
		cost = min(cost, costFactor*e.service)
	}
	e.est.target = max(cost, minTarget)
	// The CPUs the calls keep busy: the process's CPU time over the
	// window where known, else calls in flight by Little's law.
	busy := thr * e.est.latency.Seconds()
	if w.cpu > 0 {
		busy = w.cpu.Seconds() / w.length.Seconds()
	}
	e.est.overloaded = w.queue > e.est.target && busy >= minBusy*e.procs
	if e.est.overloaded {
		e.over++
	} else {
		e.over = 0
	}
	switch {
	case e.est.overloaded && (e.est.rate > 0 || e.over >= startWindows):
		e.calm = 0
		e.est.rate = e.decrease(w)
	case e.est.overloaded, e.est.rate == 0:
	case w.shed == 0 && e.calm+1 >= calmWindows:
		e.calm, e.est.rate = 0, 0
	default:
		if w.shed == 0 {
			e.calm++
		} else {
			e.calm = 0
		}
		e.est.rate *= 1 + maxIncrease*(1-min(float64(w.queue)/float64(e.est.target), 1))
	}
	return e.est
}

// decrease is the rate under overload: the throughput less the queue's
// excess over the target drained within drainTime (at most half of it),
// never above the rate in force nor below half of it. A queue just over the
// target cuts the rate a little, a long one by half: a window that reads
// overloaded from a pause of the machine costs little, a real queue is
// drained fast.
func (e *estimator) decrease(w window) float64 {
	excess := float64(w.queue-e.est.target) / float64(drainTime)
	f := math.Max(1-excess, minDecrease)
	thr := math.Max(e.throughput, float64(w.done)/w.length.Seconds())
	r := thr * f
	if e.est.rate > 0 {
		r = math.Min(r, e.est.rate)
		r = math.Max(r, e.est.rate*minDecrease)
	}
	return math.Max(r, minRate)
}

// smooth is an exponentially weighted moving average taking a share alpha
// of v, or v itself as the first value.
func smooth(avg, v, alpha float64) float64 {
	if avg == 0 {
		return v
	}
	return avg + alpha*(v-avg)
}

// toDuration converts f nanoseconds to a Duration, saturating at 0 and at
// the largest Duration instead of wrapping.
func toDuration(f float64) time.Duration {
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(max(f, 0))
}
