package outlier

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/balancer"

	"github.com/grpckit/grpckit/balancer/lbinfo"
)

// picker wraps the child's picker: it hands gRPC the real SubConn behind the
// child's choice and hooks the pick's Done to count the RPC's result against
// the endpoint. It is immutable; Pick takes no lock and allocates nothing.
// b is read only by EndpointDetails, when a debug page renders.
type picker struct {
	child balancer.Picker
	b     *outlierBalancer
}

// EndpointDetails implements lbinfo.EndpointDetailer: the child picker's
// details (if it has any), with EjectedUntil set on every address of each
// endpoint the policy holds ejected now. It takes the balancer's lock, never
// on the pick path.
func (p *picker) EndpointDetails() []lbinfo.EndpointDetail {
	return lbinfo.Merge(lbinfo.Of(p.child), p.b.ejectedDetails())
}

// ejectedDetails returns an EjectedUntil detail for each address of each
// ejected endpoint, sorted by address.
func (b *outlierBalancer) ejectedDetails() []lbinfo.EndpointDetail {
	b.mu.Lock()
	var out []lbinfo.EndpointDetail
	for addr, e := range b.endpoints {
		if e.ejected {
			out = append(out, lbinfo.EndpointDetail{Addr: addr, EjectedUntil: e.until})
		}
	}
	b.mu.Unlock()
	slices.SortFunc(out, func(x, y lbinfo.EndpointDetail) int { return cmp.Compare(x.Addr, y.Addr) })
	return out
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
