package debugz

import (
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/balancer"
)

// EndpointDetailer is implemented by child pickers that publish what they
// know of each endpoint; the page shows it beside the debugz policy's own
// counts. The page calls EndpointDetails when it is rendered, from any
// goroutine, while the picker serves picks: it must be safe for concurrent
// use, and should return a snapshot the picker does not write to afterwards.
//
// No grpckit balancer implements it yet; a child built on grpc-go's
// endpointsharding gets its endpoints' states shown without it.
type EndpointDetailer interface {
	EndpointDetails() []EndpointDetail
}

// EndpointDetail is what a child policy knows of one endpoint address. Zero
// fields are not shown.
type EndpointDetail struct {
	// Addr is the address, as in the resolver's state.
	Addr string
	// Weight is the weight the policy balances by (wrr: the effective
	// weight; zoneaware: the endpoint's share of its zone).
	Weight float64
	// Cost is the policy's current cost of the endpoint (p2c: its latency
	// estimate times its load).
	Cost float64
	// EjectedUntil is when an ejected endpoint is let back (outlier).
	EjectedUntil time.Time
	// Zone is the endpoint's zone as the policy sees it.
	Zone string
}

// picker wraps the child's picker to count each endpoint's picks and calls
// in flight. It is immutable: scs is the policy's SubConns when the child
// published its picker.
type picker struct {
	child balancer.Picker
	scs   map[balancer.SubConn]*endpointStats
}

func (p *picker) Pick(info balancer.PickInfo) (balancer.PickResult, error) {
	res, err := p.child.Pick(info)
	if err != nil {
		return res, err
	}
	rec := p.scs[res.SubConn]
	if rec == nil {
		return res, nil
	}
	rec.picks.Add(1)
	rec.inFlight.Add(1)
	if res.Done == nil {
		res.Done = rec.done
		return res, nil
	}
	h := donePool.Get().(*doneHook)
	h.rec, h.child = rec, res.Done
	h.armed.Store(true)
	res.Done = h.fn
	return res, nil
}

// doneHook chains one pick's in-flight count to the child's own Done.
// Hooks are pooled, as gRPC calls Done once per pick; the first Done
// disarms the hook, so a second Done on the same pick, before the hook is
// reused, does nothing.
type doneHook struct {
	armed atomic.Bool
	rec   *endpointStats
	child func(balancer.DoneInfo)
	fn    func(balancer.DoneInfo) // h.done, bound once
}

var donePool sync.Pool

func init() { donePool.New = newDoneHook }

func newDoneHook() any {
	h := &doneHook{}
	h.fn = h.done
	return h
}

func (h *doneHook) done(info balancer.DoneInfo) {
	if !h.armed.CompareAndSwap(true, false) {
		return
	}
	rec, child := h.rec, h.child
	h.rec, h.child = nil, nil
	donePool.Put(h)
	rec.inFlight.Add(-1)
	child(info)
}
