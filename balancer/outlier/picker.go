package outlier

import (
	"context"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/balancer"
)

// picker wraps the child's picker: it hands gRPC the real SubConn behind the
// child's choice and hooks the pick's Done to count the RPC's result against
// the endpoint. It is immutable; Pick takes no lock and, once the pool is
// warm, allocates nothing.
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
	if sc.ep != nil {
		d := donePool.Get().(*doneHook)
		d.ep, d.ctx, d.child = sc.ep, info.Ctx, res.Done
		res.Done = d.fn
	}
	return res, nil
}

// doneHook carries one pick's endpoint to its Done callback. Hooks are
// pooled: gRPC calls Done once per pick, after which the hook is reused.
type doneHook struct {
	ep     *endpoint
	ctx    context.Context
	child  func(balancer.DoneInfo)
	fn     func(balancer.DoneInfo) // d.done, bound once
	stripe uint32                  // the endpoint success counter this hook adds to
}

// hooks numbers hooks to spread them over the success-counter stripes. The
// pool keeps hooks per processor, so processors mostly use distinct stripes.
var hooks atomic.Uint32

var donePool sync.Pool

func init() { donePool.New = newDoneHook }

func newDoneHook() any {
	d := &doneHook{stripe: hooks.Add(1)}
	d.fn = d.done
	return d
}

func (d *doneHook) done(info balancer.DoneInfo) {
	ep, ctx, child, stripe := d.ep, d.ctx, d.child, d.stripe
	d.ep, d.ctx, d.child = nil, nil, nil
	donePool.Put(d)
	if child != nil {
		child(info)
	}
	ep.record(ctx, info.Err, stripe)
}
