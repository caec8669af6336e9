package testutil

import (
	"fmt"
	"sync"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/connectivity"
	estats "google.golang.org/grpc/experimental/stats"
	"google.golang.org/grpc/resolver"
)

// BalancerClientConn is a fake balancer.ClientConn. SubConns it creates are
// *SubConn values the test drives with SubConn.UpdateState; pickers, states and
// re-resolution requests the balancer produces arrive on the channels.
type BalancerClientConn struct {
	balancer.ClientConn // unused methods panic

	NewSubConns  *Latest[*SubConn]
	Shutdowns    *Latest[*SubConn]
	Pickers      *Latest[balancer.Picker]
	States       *Latest[balancer.State]
	ResolveNows  *Latest[resolver.ResolveNowOptions]
	mu           sync.Mutex
	subConns     []*SubConn
	last         balancer.State
	subConnCount int
}

// NewBalancerClientConn returns a fake whose channels keep the last 1024 events.
func NewBalancerClientConn() *BalancerClientConn {
	const n = 1024
	return &BalancerClientConn{
		NewSubConns: NewLatest[*SubConn](n),
		Shutdowns:   NewLatest[*SubConn](n),
		Pickers:     NewLatest[balancer.Picker](n),
		States:      NewLatest[balancer.State](n),
		ResolveNows: NewLatest[resolver.ResolveNowOptions](n),
	}
}

// NewSubConn creates a SubConn in state IDLE.
func (c *BalancerClientConn) NewSubConn(addrs []resolver.Address, opts balancer.NewSubConnOptions) (balancer.SubConn, error) {
	c.mu.Lock()
	c.subConnCount++
	sc := &SubConn{
		cc:       c,
		id:       fmt.Sprintf("subconn-%d", c.subConnCount),
		addrs:    append([]resolver.Address(nil), addrs...),
		listener: opts.StateListener,
	}
	c.subConns = append(c.subConns, sc)
	c.mu.Unlock()
	c.NewSubConns.Send(sc)
	return sc, nil
}

// RemoveSubConn is not used by balancers built on endpointsharding.
func (c *BalancerClientConn) RemoveSubConn(sc balancer.SubConn) { sc.Shutdown() }

// UpdateAddresses is not used by balancers built on endpointsharding.
func (c *BalancerClientConn) UpdateAddresses(balancer.SubConn, []resolver.Address) {}

// UpdateState records the state and its picker.
func (c *BalancerClientConn) UpdateState(s balancer.State) {
	c.mu.Lock()
	c.last = s
	c.mu.Unlock()
	c.States.Send(s)
	c.Pickers.Send(s.Picker)
}

// ResolveNow records the request.
func (c *BalancerClientConn) ResolveNow(o resolver.ResolveNowOptions) { c.ResolveNows.Send(o) }

// Target returns a fixed target.
func (c *BalancerClientConn) Target() string { return "fake:///target" }

// MetricsRecorder returns a recorder that drops everything.
func (c *BalancerClientConn) MetricsRecorder() estats.MetricsRecorder { return noopRecorder{} }

// LastState returns the newest balancer state.
func (c *BalancerClientConn) LastState() balancer.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// SubConns returns every SubConn created so far, oldest first.
func (c *BalancerClientConn) SubConns() []*SubConn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*SubConn(nil), c.subConns...)
}

// SubConnFor returns the newest SubConn created for addr, or nil.
func (c *BalancerClientConn) SubConnFor(addr string) *SubConn {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.subConns) - 1; i >= 0; i-- {
		if sc := c.subConns[i]; len(sc.addrs) > 0 && sc.addrs[0].Addr == addr {
			return sc
		}
	}
	return nil
}

// SetAllReady moves every SubConn that was not shut down to READY.
func (c *BalancerClientConn) SetAllReady() {
	for _, sc := range c.SubConns() {
		if !sc.IsShutdown() {
			sc.UpdateState(connectivity.Ready)
		}
	}
}

// SubConn is a fake balancer.SubConn driven by the test.
type SubConn struct {
	balancer.SubConn // unused methods panic

	cc       *BalancerClientConn
	id       string
	addrs    []resolver.Address
	listener func(balancer.SubConnState)

	// deliver is held while a state goes to the listeners, so that the
	// states of one SubConn reach them in order, as gRPC's serializer
	// delivers them; it is taken before mu.
	deliver sync.Mutex

	mu         sync.Mutex
	health     func(balancer.SubConnState)
	healthGen  int  // bumped per RegisterHealthListener
	healthSent bool // the current health listener got READY
	state      connectivity.State
	connected  bool
	shutdown   bool
}

// Addr returns the SubConn's first address.
func (sc *SubConn) Addr() string {
	if len(sc.addrs) == 0 {
		return ""
	}
	return sc.addrs[0].Addr
}

// String returns the SubConn's id and address.
func (sc *SubConn) String() string { return sc.id + "(" + sc.Addr() + ")" }

// Connect records that the balancer asked for a connection.
func (sc *SubConn) Connect() {
	sc.mu.Lock()
	sc.connected = true
	sc.mu.Unlock()
}

// Connected reports whether Connect was called.
func (sc *SubConn) Connected() bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.connected
}

// UpdateAddresses is a no-op.
func (sc *SubConn) UpdateAddresses([]resolver.Address) {}

// GetOrBuildProducer returns no producer.
func (sc *SubConn) GetOrBuildProducer(balancer.ProducerBuilder) (balancer.Producer, func()) {
	return nil, func() {}
}

// RegisterHealthListener stores the listener; UpdateState reports READY to it,
// as gRPC does when no health checking is configured. Like gRPC, when the last
// state the SubConn reported is READY it also reports READY to the new
// listener at once, from another goroutine after the call that registered it
// (a policy registers from within its state listener, holding its lock),
// unless a newer state or listener came first.
func (sc *SubConn) RegisterHealthListener(l func(balancer.SubConnState)) {
	sc.mu.Lock()
	sc.health, sc.healthSent = l, false
	sc.healthGen++
	gen, ready := sc.healthGen, sc.state == connectivity.Ready && !sc.shutdown
	sc.mu.Unlock()
	if l == nil || !ready {
		return
	}
	go func() {
		sc.deliver.Lock()
		defer sc.deliver.Unlock()
		sc.mu.Lock()
		current := gen == sc.healthGen && !sc.healthSent && sc.state == connectivity.Ready && !sc.shutdown
		sc.healthSent = sc.healthSent || current
		sc.mu.Unlock()
		if current {
			l(balancer.SubConnState{ConnectivityState: connectivity.Ready})
		}
	}()
}

// Shutdown marks the SubConn shut down and reports SHUTDOWN to its listener
// from another goroutine, later, as gRPC does: a policy may call Shutdown
// holding the lock its listener takes (pickfirst does).
func (sc *SubConn) Shutdown() {
	sc.mu.Lock()
	if sc.shutdown {
		sc.mu.Unlock()
		return
	}
	sc.shutdown = true
	sc.mu.Unlock()
	sc.cc.Shutdowns.Send(sc)
	if l := sc.listener; l != nil {
		go func() {
			sc.deliver.Lock()
			defer sc.deliver.Unlock()
			l(balancer.SubConnState{ConnectivityState: connectivity.Shutdown})
		}()
	}
}

// IsShutdown reports whether Shutdown was called.
func (sc *SubConn) IsShutdown() bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.shutdown
}

// UpdateState delivers s to the balancer, and to the health listener when s is
// READY. A TRANSIENT_FAILURE carries a fixed error.
func (sc *SubConn) UpdateState(s connectivity.State) {
	st := balancer.SubConnState{ConnectivityState: s}
	if s == connectivity.TransientFailure {
		st.ConnectionError = fmt.Errorf("testutil: %s failed", sc)
	}
	sc.deliver.Lock()
	defer sc.deliver.Unlock()
	sc.mu.Lock()
	sc.state = s
	sc.mu.Unlock()
	if sc.listener != nil {
		sc.listener(st)
	}
	sc.mu.Lock()
	h := sc.health
	if s == connectivity.Ready && h != nil {
		sc.healthSent = true
	}
	sc.mu.Unlock()
	if s == connectivity.Ready && h != nil {
		h(balancer.SubConnState{ConnectivityState: connectivity.Ready})
	}
}

type noopRecorder struct {
	estats.MetricsRecorder // unused methods panic
}

func (noopRecorder) RecordInt64Count(*estats.Int64CountHandle, int64, ...string)             {}
func (noopRecorder) RecordFloat64Count(*estats.Float64CountHandle, float64, ...string)       {}
func (noopRecorder) RecordInt64Histo(*estats.Int64HistoHandle, int64, ...string)             {}
func (noopRecorder) RecordFloat64Histo(*estats.Float64HistoHandle, float64, ...string)       {}
func (noopRecorder) RecordInt64Gauge(*estats.Int64GaugeHandle, int64, ...string)             {}
func (noopRecorder) RecordInt64UpDownCount(*estats.Int64UpDownCountHandle, int64, ...string) {}
func (noopRecorder) RegisterAsyncReporter(estats.AsyncMetricReporter, ...estats.AsyncMetric) func() {
	return func() {}
}
