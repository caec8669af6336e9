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

	// consecutive and probation are written rarely and read on every
	// success; they sit on their own cache line, away from the counters.
	consecutive atomic.Int64 // failures since the last success
	probation   atomic.Bool  // returned from ejection, not yet proven healthy
	_           [cacheLine]byte
	failures    atomic.Int64 // RPCs that failed, this interval
	// successes is striped so that RPCs finishing on different processors
	// do not contend for one cache line.
	successes [stripes]paddedCounter

	ejected   bool
	until     time.Time // end of the current ejection
	ejections int       // ejections in a row; decays while healthy
	subConns  map[*subConn]struct{}
}

const (
	cacheLine = 64
	stripes   = 8
)

type paddedCounter struct {
	n atomic.Int64
	_ [cacheLine - 8]byte
}

// record counts the result of one RPC sent to e; stripe picks the success
// counter. A call the caller gave up
// on (status CANCELLED, or its context done) is not counted. ctx may be nil.
func (e *endpoint) record(ctx context.Context, err error, stripe uint32) {
	if err == nil {
		e.success(stripe)
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
		e.success(stripe) // the server answered; a bad request is not its fault
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

func (e *endpoint) success(stripe uint32) {
	e.successes[stripe%stripes].n.Add(1)
	if e.consecutive.Load() != 0 {
		e.consecutive.Store(0)
	}
}

// takeCounts returns and resets the interval counts.
func (e *endpoint) takeCounts() (successes, failures int64) {
	for i := range e.successes {
		successes += e.successes[i].n.Swap(0)
	}
	return successes, e.failures.Swap(0)
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
