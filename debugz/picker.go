package debugz

import (
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/balancer"

	"github.com/grpckit/grpckit/balancer/lbinfo"
)

// EndpointDetailer is lbinfo.EndpointDetailer: a child policy's picker
// that implements it adds its per-endpoint details to the page. The page
// calls it when it renders, never on the pick path. A parent policy's
// picker includes its children's details (lbinfo.Merge), so the details of
// every policy under the debugz policy reach the page. grpckit's outlier and
// consistenthash pickers implement it; a child built on grpc-go's
// endpointsharding gets its endpoints' states shown without it.
type EndpointDetailer = lbinfo.EndpointDetailer

// EndpointDetail is lbinfo.EndpointDetail, what a child policy knows of one
// endpoint address. Zero fields are not shown.
type EndpointDetail = lbinfo.EndpointDetail

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
