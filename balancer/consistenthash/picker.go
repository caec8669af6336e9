package consistenthash

import (
	"math"
	"math/rand/v2"
	"sync/atomic"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/balancer/lbinfo"
)

// errMissingKey fails a request without a key when missingKey is "fail". The
// RPC ends with Internal unless UnaryClientInterceptor or
// StreamClientInterceptor restores the code.
var errMissingKey = status.Error(codes.InvalidArgument, missingKeyMsg)

// load counts an endpoint's in-flight requests picked under bounded loads. The
// balancer owns it, so the count survives picker rebuilds and state flaps.
type load struct {
	n     atomic.Int64
	total *atomic.Int64 // the balancer's in-flight total
	done  func(balancer.DoneInfo)
}

func newLoad(total *atomic.Int64) *load {
	l := &load{total: total}
	l.done = l.finish // allocated once, so Pick does not allocate
	return l
}

func (l *load) finish(balancer.DoneInfo) {
	l.n.Add(-1)
	l.total.Add(-1)
}

// pickEndpoint is an endpoint's entry in a picker snapshot.
type pickEndpoint struct {
	picker balancer.Picker // the pickfirst child's picker
	ready  bool
	weight float64
	load   *load
}

// picker is an immutable snapshot of the table and the endpoints' states.
// Pick takes no lock and allocates nothing (beyond what reading a header
// costs).
type picker struct {
	table      *table
	eps        []pickEndpoint // indexed like table.eps
	ready      int            // READY endpoints
	readyW     float64        // their total weight
	state      connectivity.State
	header     string
	failNoKey  bool
	loadFactor float64 // 0: unbounded
	inflight   *atomic.Int64
}

// EndpointDetails implements lbinfo.EndpointDetailer, for debug pages: each
// endpoint's Weight is its share of the table's slots, from 0 to 1: the part of
// the keys it owns (compare it with the weights of the resolver's
// instances). The shares are counted once per table, when a page first asks,
// never on the pick path.
func (p *picker) EndpointDetails() []lbinfo.EndpointDetail {
	shares := p.table.slotShares()
	out := make([]lbinfo.EndpointDetail, len(p.table.eps))
	for i, e := range p.table.eps {
		out[i] = lbinfo.EndpointDetail{Addr: e.addr, Weight: shares[i]}
	}
	return out
}

// Pick routes the request to the owner of its key's slot, or, when the owner
// is not READY, to the fallback among the READY endpoints; with bounded loads,
// past a full endpoint to the owners of the next slots.
func (p *picker) Pick(info balancer.PickInfo) (balancer.PickResult, error) {
	h, ok := requestHash(info.Ctx, p.header)
	if !ok {
		if p.failNoKey {
			return balancer.PickResult{}, errMissingKey
		}
		h = rand.Uint64()
	}
	s := p.table.slot(h)
	if p.ready == 0 {
		return p.pickNotReady(info, s)
	}
	i := p.route(h, s)
	if i < 0 {
		return balancer.PickResult{}, balancer.ErrNoSubConnAvailable
	}
	if p.loadFactor == 0 {
		return p.eps[i].picker.Pick(info)
	}
	return p.pickBounded(info, i, s)
}

// pickNotReady follows the Picker contract when no endpoint is READY: queue
// the RPC while endpoints connect; fail it with the owner's error once all
// have failed.
func (p *picker) pickNotReady(info balancer.PickInfo, s uint32) (balancer.PickResult, error) {
	if p.state == connectivity.TransientFailure {
		return p.eps[p.table.owner(s)].picker.Pick(info)
	}
	return balancer.PickResult{}, balancer.ErrNoSubConnAvailable
}

// route returns the endpoint for a key of hash h and slot s: the slot's owner
// if it is READY, else the fallback among the READY endpoints; -1 if none is
// READY.
func (p *picker) route(h uint64, s uint32) int {
	if o := p.table.owner(s); p.eps[o].ready {
		return int(o)
	}
	return p.fallback(h)
}

// fallback returns the READY endpoint that wins a weighted rendezvous for
// hash h (the lowest -ln(u)/weight, u uniform in (0, 1] from h and the
// endpoint's address; ties to the lower address), or -1 if none is READY.
// The winner depends only on h and the READY endpoints, so a change of one
// endpoint moves only the keys it wins or loses; see table.go. It visits each
// endpoint once, and takes logarithms only of each weight class's best (so
// with endpoints of different weights, clients on platforms whose math.Log
// rounds differently could disagree on a key whose two best scores are
// within a rounding error of each other).
func (p *picker) fallback(h uint64) int {
	t := p.table
	if t.class == nil {
		return p.fallbackEach(h)
	}
	var top [maxClasses]uint64
	var arg [maxClasses]int32
	for c := range arg {
		arg[c] = -1
	}
	for i := range p.eps {
		if !p.eps[i].ready {
			continue
		}
		// Within a class the largest u has the lowest -ln(u)/weight.
		if c, u := t.class[i], mix64(h^t.seeds[i]); arg[c] < 0 || u > top[c] {
			top[c], arg[c] = u, int32(i)
		}
	}
	best, low := -1, math.Inf(1)
	for c, w := range t.classWeights {
		if arg[c] < 0 {
			continue
		}
		if score := -math.Log(uniform(top[c])) / w; score < low || score == low && int(arg[c]) < best {
			best, low = int(arg[c]), score
		}
	}
	return best
}

// fallbackEach is fallback for tables with more than maxClasses weights.
func (p *picker) fallbackEach(h uint64) int {
	best, low := -1, math.Inf(1)
	for i := range p.eps {
		if !p.eps[i].ready {
			continue
		}
		if score := -math.Log(uniform(mix64(h^p.table.seeds[i]))) / p.eps[i].weight; score < low {
			best, low = i, score
		}
	}
	return best
}

// uniform maps x to (0, 1], in steps of 2^-53.
func uniform(x uint64) float64 { return float64(x>>11+1) * 0x1p-53 }

// pickBounded charges the request to endpoint i, the key's route, if that
// keeps it under its bound; else to the first READY owner under its bound
// among the slots after s. If concurrent picks fill every endpoint, it falls
// back to i. It visits each slot at most once.
func (p *picker) pickBounded(info balancer.PickInfo, i int, s uint32) (balancer.PickResult, error) {
	if p.admit(&p.eps[i]) {
		return p.charged(info, &p.eps[i])
	}
	last := uint16(i)
	for n := uint32(1); n < uint32(p.table.size()); n++ {
		o := p.table.owner(s + n)
		if o == last || !p.eps[o].ready {
			continue
		}
		last = o
		if p.admit(&p.eps[o]) {
			return p.charged(info, &p.eps[o])
		}
	}
	return p.eps[i].picker.Pick(info)
}

// admit charges one request to e if that keeps e within loadFactor times its
// weighted share of the in-flight requests, this one included.
func (p *picker) admit(e *pickEndpoint) bool {
	total := p.inflight.Load() + 1
	bound := math.Ceil(p.loadFactor * float64(total) * e.weight / p.readyW)
	if n := e.load.n.Add(1); float64(n) <= bound {
		p.inflight.Add(1)
		return true
	}
	e.load.n.Add(-1)
	return false
}

// charged picks from e, whose load admit has already raised, and arranges for
// the load to drop when the RPC ends (or at once, if the child fails).
func (p *picker) charged(info balancer.PickInfo, e *pickEndpoint) (balancer.PickResult, error) {
	res, err := e.picker.Pick(info)
	if err != nil {
		e.load.finish(balancer.DoneInfo{})
		return res, err
	}
	if res.Done == nil {
		res.Done = e.load.done
		return res, nil
	}
	childDone := res.Done // pickfirst sets none; wrap only if a child does
	res.Done = func(di balancer.DoneInfo) { e.load.finish(di); childDone(di) }
	return res, nil
}
