package outlier

import (
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/balancer"
)

// picker wraps the child's picker: it hands gRPC the real SubConn behind the
// child's choice and hooks the pick's Done to count the RPC's result against
// the endpoint. It is immutable; Pick takes no lock and allocates nothing.
type picker struct {
	child balancer.Picker
}

func (p *picker) Pick(info balancer.PickInfo) (balancer.PickResult, error) {
	res, err := p.child.Pick(info)
	if err != nil {
		return res, err
	}
	sc, ok := res.SubConn.(*subConn)
	if !ok {
		return res, nil
	}
	res.SubConn = sc.SubConn
	if ep := sc.ep; ep != nil {
		if res.Done == nil {
			res.Done = ep.done
		} else {
			d := donePool.Get().(*doneHook)
			d.ep, d.child = ep, res.Done
			d.armed.Store(true)
			res.Done = d.fn
		}
	}
	return res, nil
}

// doneHook chains one pick's endpoint count to the child's own Done
// callback. Hooks are pooled: gRPC calls Done once per pick, after which the
// hook is reused. The first Done disarms the hook by an atomic swap, so a
// second Done on the same pick finds it disarmed and returns instead of
// calling a cleared callback or counting twice.
type doneHook struct {
	armed atomic.Bool
	ep    *endpoint
	child func(balancer.DoneInfo)
	fn    func(balancer.DoneInfo) // d.done, bound once
}

var donePool sync.Pool

func init() { donePool.New = newDoneHook }

func newDoneHook() any {
	d := new(doneHook)
	d.fn = d.done
	return d
}

func (d *doneHook) done(info balancer.DoneInfo) {
	if !d.armed.Swap(false) {
		return
	}
	ep, child := d.ep, d.child
	d.ep, d.child = nil, nil
	donePool.Put(d)
	child(info)
	ep.record(info.Err)
}
