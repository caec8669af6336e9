package outlier

import (
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// endpoint is the record the policy keeps for one resolver endpoint. It
// outlives pickers and config updates so that counts and ejection history
// survive them.
//
// Successes are counted only while the endpoint is watched: from its first
// failure (or its return from ejection) until an interval ends in which it
// did not fail, with its run of failures broken. A healthy endpoint thus
// costs each RPC one read of a line nobody writes; a watched one, an atomic
// add. successes only grows: the failure counts compare it with the value
// they saw last instead of being reset by every success.
type endpoint struct {
	// Read by every RPC; written at creation, and watched rarely.
	b       *outlierBalancer
	addr    string                  // first address, for logs
	done    func(balancer.DoneInfo) // counts the DoneInfo's error, bound once
	watched atomic.Bool             // successes are being counted
	_       [cacheLine]byte

	successes atomic.Int64 // RPCs that succeeded while watched, ever
	_         [cacheLine - 8]byte

	// Written by failed RPCs, under fmu.
	fmu         sync.Mutex
	failures    int64       // RPCs that failed, ever
	consecutive int64       // failures in a row, unless successes moved past seen
	seen        int64       // successes when consecutive was last counted
	probation   atomic.Bool // returned from ejection, not yet proven healthy

	// Guarded by the balancer's mu.
	ejected   bool
	since     time.Time // start of the current ejection
	until     time.Time // end of the current ejection
	ejections int       // ejections in a row; decays while healthy
	subConns  map[*subConn]struct{}
	swept     counts // the totals at the end of the last interval
}

const cacheLine = 64

// counts is a pair of running totals.
type counts struct{ successes, failures int64 }

func newEndpoint(b *outlierBalancer, addr string) *endpoint {
	e := &endpoint{b: b, addr: addr, subConns: make(map[*subConn]struct{})}
	e.done = func(info balancer.DoneInfo) { e.record(info.Err) }
	return e
}

// record counts the result of one RPC sent to e. A call that ended with
// CANCELLED is not counted: the caller gave up on it, so it says nothing of
// the endpoint.
func (e *endpoint) record(err error) {
	if err == nil {
		e.success()
		return
	}
	code := status.Code(err)
	if code == codes.Canceled {
		return
	}
	cfg := e.b.cfg.Load()
	if !cfg.isFailure(code) {
		e.success() // the server answered; a bad request is not its fault
		return
	}
	e.fmu.Lock()
	e.failures++
	e.watched.Store(true)
	n := e.countFailureLocked()
	e.fmu.Unlock()
	// Wake the sweeper when the run reaches the limit, and again at each
	// failure past it: an endpoint still picked then was not ejected
	// (ejection was refused, say, as it was alone), and endpoints may have
	// joined since, so it is ejected as soon as that is allowed rather than
	// at the next interval. kick queues at most one sweep at a time.
	if (cfg.consecutiveFailures != 0 && n >= int64(cfg.consecutiveFailures)) || (n == 1 && e.probation.Load()) {
		e.b.kick()
	}
}

func (e *endpoint) success() {
	if e.watched.Load() {
		e.successes.Add(1)
	}
}

// countFailureLocked adds a failure to the run of failures, which starts
// over if any RPC succeeded since the last failure.
func (e *endpoint) countFailureLocked() int64 {
	if s := e.successes.Load(); s != e.seen {
		e.consecutive, e.seen = 0, s
	}
	e.consecutive++
	return e.consecutive
}

// consecutiveFailures is the number of failures since the last success.
func (e *endpoint) consecutiveFailures() int64 {
	e.fmu.Lock()
	defer e.fmu.Unlock()
	return e.runLocked()
}

// runLocked is consecutiveFailures under fmu.
func (e *endpoint) runLocked() int64 {
	if e.successes.Load() != e.seen {
		return 0
	}
	return e.consecutive
}

// takeCounts returns the counts of the interval that ends now and starts the
// next. An endpoint that did not fail in it, whose run of failures a success
// broke and that is not on probation, stops being watched. The caller holds
// the balancer's mu.
func (e *endpoint) takeCounts() (successes, failures int64) {
	e.fmu.Lock()
	defer e.fmu.Unlock()
	now := counts{e.successes.Load(), e.failures}
	successes, failures = now.successes-e.swept.successes, now.failures-e.swept.failures
	e.swept = now
	if failures == 0 && !e.probation.Load() && e.runLocked() == 0 {
		e.watched.Store(false)
	}
	return successes, failures
}

// resetCounts forgets everything counted so far. The caller holds the
// balancer's mu and sets watched itself.
func (e *endpoint) resetCounts() {
	e.fmu.Lock()
	e.swept = counts{e.successes.Load(), e.failures}
	e.consecutive, e.seen = 0, e.swept.successes
	e.fmu.Unlock()
}
