package outlier

import (
	"errors"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/connectivity"

	"github.com/grpckit/grpckit/balancer/internal/childpolicy"
)

// errEjected is the connection error the child sees for an ejected endpoint.
var errEjected = errors.New("outlier: endpoint ejected for failing")

// subConn is the SubConn the child policy gets. It passes the real SubConn's
// states through, except while its endpoint is ejected: then the child sees
// TRANSIENT_FAILURE. Like gRPC's own outlier detection it ejects through the
// health listener, which pick_first leaves register, so the leaf keeps its
// connection; for a leaf that registers none it falls back to the
// connectivity listener.
//
// ep and listener are set at creation; every other field is touched only on
// the balancer's serializer.
type subConn struct {
	balancer.SubConn
	b        *outlierBalancer
	ep       *endpoint // nil for an address no resolver endpoint has
	listener func(balancer.SubConnState)

	ejected        bool
	shutdown       bool
	raw            *balancer.SubConnState // last connectivity state, nil before the first
	health         *balancer.SubConnState // last health state from the current listener
	healthListener func(balancer.SubConnState)
	healthGen      int  // bumped per RegisterHealthListener, to drop stale updates
	viaHealth      bool // the child registered a health listener at least once
	failedSent     bool // the connectivity listener was last told ejectedState
}

var ejectedState = balancer.SubConnState{ConnectivityState: connectivity.TransientFailure, ConnectionError: errEjected}

// onState receives the real SubConn's connectivity states from gRPC.
func (sc *subConn) onState(s balancer.SubConnState) {
	sc.b.serial.schedule(func() { sc.deliverState(s) })
}

func (sc *subConn) deliverState(s balancer.SubConnState) {
	if s.ConnectivityState == connectivity.Ready && sc.raw != nil && sc.raw.ConnectivityState == connectivity.Ready {
		return // gRPC never repeats READY; a repeat would reset the health watch
	}
	sc.raw = &s
	if s.ConnectivityState == connectivity.Shutdown {
		sc.shutdown = true
		sc.b.forget(sc)
	} else if s.ConnectivityState != connectivity.Ready {
		sc.healthListener, sc.health = nil, nil // gRPC stops health updates here
	}
	if sc.listener == nil {
		return
	}
	if sc.ejected && !sc.viaHealth && !sc.shutdown {
		// The child sees TRANSIENT_FAILURE, once: a SubConn created for an
		// endpoint already ejected hears it with its first state.
		if !sc.failedSent {
			sc.failedSent = true
			sc.listener(ejectedState)
		}
		return
	}
	sc.failedSent = false
	sc.listener(s)
}

// RegisterHealthListener wraps the child's health listener. The child calls
// it from within a call the serializer made.
func (sc *subConn) RegisterHealthListener(l func(balancer.SubConnState)) {
	sc.healthGen++
	sc.healthListener, sc.health = l, nil
	sc.viaHealth = sc.viaHealth || l != nil
	if l == nil {
		sc.SubConn.RegisterHealthListener(nil)
		return
	}
	gen := sc.healthGen
	sc.SubConn.RegisterHealthListener(func(s balancer.SubConnState) {
		sc.b.serial.schedule(func() { sc.deliverHealth(gen, s) })
	})
}

func (sc *subConn) deliverHealth(gen int, s balancer.SubConnState) {
	if gen != sc.healthGen || sc.healthListener == nil {
		return
	}
	health := s // kept apart: s may become the ejected state below
	sc.health = &health
	if sc.ejected {
		s = ejectedState
	}
	sc.healthListener(s)
}

// setEjected ejects or returns the SubConn; it runs on the serializer.
func (sc *subConn) setEjected(ejected bool) {
	if sc.shutdown || sc.ejected == ejected {
		return
	}
	sc.ejected = ejected
	sc.tellParent()
	if sc.viaHealth {
		sc.notifyHealth()
		return
	}
	if sc.listener == nil {
		return
	}
	if ejected {
		sc.failedSent = true
		sc.listener(ejectedState)
	} else if sc.raw != nil {
		sc.failedSent = false
		sc.listener(*sc.raw)
	}
}

// tellParent tells the parent's SubConn, when it is one of a grpckit parent
// that counts READY endpoints (zoneaware), whether the endpoint is ejected;
// before the child hears of it, so that the parent's count is right by the
// time the child's picker changes.
func (sc *subConn) tellParent() {
	if o, ok := sc.SubConn.(childpolicy.EjectionObserver); ok {
		o.SetEjected(sc.ejected)
	}
}

// notifyHealth tells the child's health listener, if it has one now, the
// state it should see.
func (sc *subConn) notifyHealth() {
	switch {
	case sc.healthListener == nil:
		// Not READY: the raw states went through; the child registers again
		// on the next READY.
	case sc.ejected:
		sc.healthListener(ejectedState)
	case sc.health != nil:
		sc.healthListener(*sc.health)
	}
}
