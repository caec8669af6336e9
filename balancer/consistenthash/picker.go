package consistenthash

import (
	"math"
	"math/rand/v2"
	"sync/atomic"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
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

// picker is an immutable snapshot of the ring and the endpoints' states. Pick
// takes no lock and allocates nothing (beyond what reading a header costs).
type picker struct {
	ring       *ring
	eps        []pickEndpoint // indexed like ring.eps
	ready      int            // READY endpoints
	readyW     float64        // their total weight
	state      connectivity.State
	header     string
	failNoKey  bool
	loadFactor float64 // 0: unbounded
	inflight   *atomic.Int64
}

// Pick routes the request to the owner of its key's slot, walking the ring
// past owners that are not READY or, with bounded loads, are full.
func (p *picker) Pick(info balancer.PickInfo) (balancer.PickResult, error) {
	h, ok := requestHash(info.Ctx, p.header)
	if !ok {
		if p.failNoKey {
			return balancer.PickResult{}, errMissingKey
		}
		h = rand.Uint64()
	}
	s := p.ring.slot(h)
	if p.ready == 0 {
		return p.pickNotReady(info, s)
	}
	if p.loadFactor == 0 {
		return p.eps[p.nextReady(s)].picker.Pick(info)
	}
	return p.pickBounded(info, s)
}

// pickNotReady follows the Picker contract when no endpoint is READY: queue
// the RPC while endpoints connect; fail it with the owner's error once all
// have failed.
func (p *picker) pickNotReady(info balancer.PickInfo, s uint32) (balancer.PickResult, error) {
	if p.state == connectivity.TransientFailure {
		return p.eps[p.ring.owner(s)].picker.Pick(info)
	}
	return balancer.PickResult{}, balancer.ErrNoSubConnAvailable
}

// nextReady returns the first READY owner at or after slot s. There must be
// one.
func (p *picker) nextReady(s uint32) uint16 {
	for n := uint32(0); ; n++ {
		if o := p.ring.owner(s + n); p.eps[o].ready {
			return o
		}
	}
}

// pickBounded returns the first READY owner at or after slot s that is under
// its bound, charging the request to it. If concurrent picks fill every
// endpoint, it falls back to the first READY owner.
func (p *picker) pickBounded(info balancer.PickInfo, s uint32) (balancer.PickResult, error) {
	last := uint16(noOwner)
	for n := range uint32(len(p.ring.slots)) {
		o := p.ring.owner(s + n)
		if o == last || !p.eps[o].ready {
			continue
		}
		last = o
		if p.admit(&p.eps[o]) {
			return p.charged(info, &p.eps[o])
		}
	}
	return p.eps[p.nextReady(s)].picker.Pick(info)
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
