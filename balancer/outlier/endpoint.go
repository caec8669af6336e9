package outlier

import (
	"context"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// endpoint is the record the policy keeps for one resolver endpoint. It
// outlives pickers and config updates so that counts and ejection history
// survive them.
//
// The atomic fields are written by finished RPCs; the others are guarded by
// the balancer's mu.
type endpoint struct {
	b    *outlierBalancer
	addr string // first address, for logs

	successes   atomic.Int64 // RPCs that did not fail, this interval
	failures    atomic.Int64 // RPCs that failed, this interval
	consecutive atomic.Int64 // failures since the last success
	probation   atomic.Bool  // returned from ejection, not yet proven healthy

	ejected   bool
	until     time.Time // end of the current ejection
	ejections int       // ejections in a row; decays while healthy
	subConns  map[*subConn]struct{}
}

// record counts the result of one RPC sent to e. A call the caller gave up
// on (status CANCELLED, or its context done) is not counted. ctx may be nil.
func (e *endpoint) record(ctx context.Context, err error) {
	if err == nil {
		e.success()
		return
	}
	if callerGaveUp(ctx) {
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
	e.failures.Add(1)
	n := e.consecutive.Add(1)
	// Wake the sweeper once, when the count crosses a limit; the periodic
	// sweep catches an endpoint it could not eject then.
	if n == int64(cfg.consecutiveFailures) || (n == 1 && e.probation.Load()) {
		e.b.kick()
	}
}

func (e *endpoint) success() {
	e.successes.Add(1)
	if e.consecutive.Load() != 0 {
		e.consecutive.Store(0)
	}
}

// takeCounts returns and resets the interval counts.
func (e *endpoint) takeCounts() (successes, failures int64) {
	return e.successes.Swap(0), e.failures.Swap(0)
}

// resetCounts forgets everything counted so far.
func (e *endpoint) resetCounts() {
	e.takeCounts()
	e.consecutive.Store(0)
}

// callerGaveUp reports whether the RPC's own context is done or past its
// deadline. The deadline is checked too because the transport, or the server
// the deadline was propagated to, may end the call a moment before the
// context's timer fires.
func callerGaveUp(ctx context.Context) bool {
	if ctx == nil {
		return false
	}
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}
