package zoneaware

import (
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/connectivity"

	"github.com/grpckit/grpckit/balancer/internal/childpolicy"
)

// endpointState is the policy's record of one resolver endpoint: its zone,
// its weight and how many of its SubConns are READY. Guarded by the
// balancer's mu.
type endpointState struct {
	zone   string
	weight float64
	ready  int
}

// subConn is the SubConn a zone's child gets. It passes every state through
// unchanged and keeps count of which endpoints are READY: connected, healthy
// when the child watches health, and not ejected by an outlier child.
//
// Its fields are guarded by the balancer's mu.
type subConn struct {
	balancer.SubConn
	b        *zoneBalancer
	ep       *endpointState // nil for an address no resolver endpoint has
	listener func(balancer.SubConnState)

	raw        connectivity.State
	health     connectivity.State
	watched    bool // the child registered a health listener
	healthGen  int
	ejected    bool // an outlier child ejected the endpoint
	readyTally bool // counted in ep.ready
}

var _ childpolicy.EjectionObserver = (*subConn)(nil)

// SetEjected counts the SubConn not READY while an outlier child has its
// endpoint ejected: the child's picker leaves it out, so the zone cannot
// count on it.
func (sc *subConn) SetEjected(ejected bool) {
	sc.b.mu.Lock()
	sc.ejected = ejected
	sc.tallyLocked()
	sc.b.mu.Unlock()
	sc.b.flush()
}

// onState receives the real SubConn's states from gRPC.
func (sc *subConn) onState(s balancer.SubConnState) {
	sc.b.mu.Lock()
	sc.raw = s.ConnectivityState
	if s.ConnectivityState != connectivity.Ready {
		sc.watched = false // gRPC stops the health producer here
	}
	sc.tallyLocked()
	sc.b.mu.Unlock()
	if sc.listener != nil {
		sc.listener(s)
	}
	sc.b.flush()
}

// RegisterHealthListener watches the health the child watches.
func (sc *subConn) RegisterHealthListener(l func(balancer.SubConnState)) {
	sc.b.mu.Lock()
	sc.healthGen++
	gen := sc.healthGen
	sc.watched, sc.health = l != nil, connectivity.Connecting
	sc.tallyLocked()
	sc.b.mu.Unlock()
	if l == nil {
		sc.SubConn.RegisterHealthListener(nil)
		return
	}
	sc.SubConn.RegisterHealthListener(func(s balancer.SubConnState) {
		sc.onHealth(gen, s)
		l(s)
		sc.b.flush()
	})
}

func (sc *subConn) onHealth(gen int, s balancer.SubConnState) {
	sc.b.mu.Lock()
	defer sc.b.mu.Unlock()
	if gen == sc.healthGen {
		sc.health = s.ConnectivityState
		sc.tallyLocked()
	}
}

// tallyLocked updates the endpoint's READY count and marks the picker stale
// when it changed.
func (sc *subConn) tallyLocked() {
	ready := sc.raw == connectivity.Ready && (!sc.watched || sc.health == connectivity.Ready) && !sc.ejected
	if ready == sc.readyTally || sc.ep == nil {
		return
	}
	sc.readyTally = ready
	if ready {
		sc.ep.ready++
	} else {
		sc.ep.ready--
	}
	sc.b.dirty = true
}
