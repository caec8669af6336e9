package zoneaware

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/base"
	"google.golang.org/grpc/connectivity"
	estats "google.golang.org/grpc/experimental/stats"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// Name is the name the policy is registered under.
const Name = "grpckit_zone_aware"

var logger = grpclog.Component("grpckit-zoneaware")

func init() { balancer.Register(builder{}) }

type builder struct{}

func (builder) Name() string { return Name }

func (builder) ParseConfig(raw json.RawMessage) (serviceconfig.LoadBalancingConfig, error) {
	return parseConfig(raw)
}

func (builder) Build(cc balancer.ClientConn, opts balancer.BuildOptions) balancer.Balancer {
	b := &zoneBalancer{cc: cc, opts: opts, zones: map[string]*zoneChild{}, endpoints: map[epKey]*endpointState{},
		target: opts.Target.String()}
	b.unregister = cc.MetricsRecorder().RegisterAsyncReporter(estats.AsyncMetricReporterFunc(func(r estats.AsyncMetricsRecorder) error {
		b.report(r)
		return nil
	}), metrics...)
	logger.Infof("zoneaware %p: created", b)
	return b
}

// zoneBalancer runs one child policy per zone and picks a zone per RPC.
//
// gRPC calls it, and it calls the children, from one goroutine at a time;
// the children call back from any goroutine (their timers, their own
// serializers, SubConn listeners). mu guards the fields below it. It is
// never held while a child is called, and it is held while the parent's
// UpdateState is called, so that pickers reach gRPC in the order they were
// built from the children's states; gRPC's UpdateState does not call back
// into the balancer.
type zoneBalancer struct {
	cc   balancer.ClientConn
	opts balancer.BuildOptions

	// For metrics: the newest routing decision, read without mu when the
	// stats plugin collects, and how to stop reporting.
	target     string
	snap       atomic.Pointer[snapshot]
	unregister func()

	mu        sync.Mutex
	cfg       *lbConfig
	zones     map[string]*zoneChild
	order     []string                 // zones, sorted
	endpoints map[epKey]*endpointState // by zone and address, for the SubConns
	records   []*endpointState         // one per resolver endpoint, for the loads
	nEndpoint int
	inhibit   bool // an update is in progress; flush at its end
	dirty     bool // the READY counts or a child's state changed
	mode      string
	closed    bool
}

// zoneChild is one zone's child policy and its last state.
type zoneChild struct {
	zone  string
	bal   balancer.Balancer
	state balancer.State // guarded by the balancer's mu
}

func (b *zoneBalancer) UpdateClientConnState(s balancer.ClientConnState) error {
	cfg, ok := s.BalancerConfig.(*lbConfig)
	if !ok || cfg == nil {
		return fmt.Errorf("zoneaware: unexpected config type %T", s.BalancerConfig)
	}
	byZone := groupByZone(s.ResolverState.Endpoints)
	b.mu.Lock()
	b.inhibit = true
	stale := b.reconcileLocked(cfg, byZone)
	b.setEndpointsLocked(s.ResolverState.Endpoints)
	children := b.childrenLocked()
	b.mu.Unlock()

	for _, c := range stale {
		c.bal.Close()
	}
	var errs []error
	for _, c := range children {
		rs := s.ResolverState
		rs.Endpoints, rs.Addresses = byZone[c.zone], nil
		errs = append(errs, c.bal.UpdateClientConnState(balancer.ClientConnState{ResolverState: rs, BalancerConfig: cfg.child.Config}))
	}
	b.mu.Lock()
	b.inhibit, b.dirty = false, true
	b.mu.Unlock()
	b.flush()
	if len(byZone) == 0 {
		return balancer.ErrBadResolverState
	}
	return errors.Join(errs...)
}

// groupByZone splits endpoints by their Instance zone, keeping their order.
func groupByZone(eps []resolver.Endpoint) map[string][]resolver.Endpoint {
	out := map[string][]resolver.Endpoint{}
	for _, ep := range eps {
		z := kitresolver.ZoneOf(ep)
		out[z] = append(out[z], ep)
	}
	return out
}

// reconcileLocked builds children for new zones and returns those to close:
// the zones gone, or every child when the child policy changed.
func (b *zoneBalancer) reconcileLocked(cfg *lbConfig, byZone map[string][]resolver.Endpoint) (stale []*zoneChild) {
	policyChanged := b.cfg != nil && b.cfg.child.Builder.Name() != cfg.child.Builder.Name()
	b.cfg = cfg
	for z, c := range b.zones {
		if _, ok := byZone[z]; !ok || policyChanged {
			stale = append(stale, c)
			delete(b.zones, z)
		}
	}
	b.order = b.order[:0]
	for z := range byZone {
		if _, ok := b.zones[z]; !ok {
			c := &zoneChild{zone: z, state: balancer.State{ConnectivityState: connectivity.Connecting, Picker: base.NewErrPicker(balancer.ErrNoSubConnAvailable)}}
			c.bal = cfg.child.Builder.Build(&zoneCC{ClientConn: b.cc, b: b, child: c}, b.opts)
			b.zones[z] = c
		}
		b.order = append(b.order, z)
	}
	slices.Sort(b.order)
	return stale
}

// epKey names the record a SubConn of a zone's child reports to: the zone
// and the address. Records are found by zone as well as address because
// endpoints of different zones may share an address, and each zone's child
// makes SubConns of its own for it.
type epKey struct{ zone, addr string }

// setEndpointsLocked records every endpoint's zone and weight. An endpoint
// that stays in its zone keeps its record, and so its READY count, whose
// SubConns keep reporting to it: only its weight is updated. One that moves
// zone gets a new record, which the SubConns the new zone's child creates
// report to; the old zone's SubConns keep the old record, which no longer
// counts. An address two endpoints of a zone share counts for the first:
// a SubConn names only its address.
func (b *zoneBalancer) setEndpointsLocked(eps []resolver.Endpoint) {
	next := make(map[epKey]*endpointState, len(eps))
	records := make([]*endpointState, 0, len(eps))
	taken := make(map[*endpointState]bool, len(eps))
	for _, ep := range eps {
		if len(ep.Addresses) == 0 {
			continue
		}
		zone := kitresolver.ZoneOf(ep)
		var st *endpointState
		for _, a := range ep.Addresses { // its record, unless an endpoint before it took it
			if old := b.endpoints[epKey{zone, a.Addr}]; old != nil && !taken[old] {
				st = old
				break
			}
		}
		if st == nil {
			st = &endpointState{zone: zone}
		}
		taken[st] = true
		st.weight = float64(kitresolver.WeightOf(ep))
		records = append(records, st)
		for _, a := range ep.Addresses {
			if k := (epKey{zone, a.Addr}); next[k] == nil {
				next[k] = st // the first endpoint of the zone listing it
			}
		}
	}
	b.endpoints, b.records, b.nEndpoint = next, records, len(eps)
}

func (b *zoneBalancer) childrenLocked() []*zoneChild {
	out := make([]*zoneChild, 0, len(b.order))
	for _, z := range b.order {
		out = append(out, b.zones[z])
	}
	return out
}

// ResolverError passes err to the children; with none yet, calls fail with
// it.
func (b *zoneBalancer) ResolverError(err error) {
	b.mu.Lock()
	children := b.childrenLocked()
	if len(children) == 0 {
		if !b.closed {
			b.cc.UpdateState(balancer.State{ConnectivityState: connectivity.TransientFailure,
				Picker: base.NewErrPicker(fmt.Errorf("zoneaware: resolver error: %w", err))})
		}
		b.mu.Unlock()
		return
	}
	b.mu.Unlock()
	for _, c := range children {
		c.bal.ResolverError(err)
	}
}

func (b *zoneBalancer) UpdateSubConnState(sc balancer.SubConn, s balancer.SubConnState) {
	logger.Errorf("zoneaware %p: UpdateSubConnState(%v, %+v) called unexpectedly", b, sc, s)
}

func (b *zoneBalancer) ExitIdle() {
	b.mu.Lock()
	children := b.childrenLocked()
	b.mu.Unlock()
	for _, c := range children {
		c.bal.ExitIdle()
	}
}

func (b *zoneBalancer) Close() {
	b.mu.Lock()
	b.closed = true
	children := b.childrenLocked()
	b.zones, b.order = nil, nil
	b.mu.Unlock()
	for _, c := range children {
		c.bal.Close()
	}
	b.unregister()
	logger.Infof("zoneaware %p: closed", b)
}

// flush sends a new picker to gRPC when something changed and no update is
// in progress. It publishes under mu: a picker built from older states can
// never overtake a newer one.
func (b *zoneBalancer) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

func (b *zoneBalancer) flushLocked() {
	if !b.dirty || b.inhibit || b.closed {
		return
	}
	b.dirty = false
	b.cc.UpdateState(b.stateLocked())
}

// stateLocked computes the aggregate state and the zone picker.
func (b *zoneBalancer) stateLocked() balancer.State {
	if len(b.order) == 0 {
		b.snap.Store(nil)
		return balancer.State{ConnectivityState: connectivity.TransientFailure,
			Picker: base.NewErrPicker(errors.New("zoneaware: the resolver returned no endpoints"))}
	}
	loads := b.loadsLocked()
	zone := b.cfg.zone()
	sh, mode := shares(loads, zone, b.cfg.panicThreshold, b.nEndpoint, b.cfg.minClusterSize)
	b.logModeLocked(mode, zone, loads, sh)
	b.snapshotLocked(mode, zone, sh)
	pickers := make([]balancer.Picker, len(b.order))
	for i, z := range b.order {
		pickers[i] = b.zones[z].state.Picker
	}
	return balancer.State{ConnectivityState: b.aggregateLocked(), Picker: newPicker(sh, pickers)}
}

// loadsLocked sums endpoint weights per zone, in b.order.
func (b *zoneBalancer) loadsLocked() []zoneLoad {
	idx := make(map[string]int, len(b.order))
	loads := make([]zoneLoad, len(b.order))
	for i, z := range b.order {
		idx[z], loads[i].zone = i, z
	}
	for _, st := range b.records {
		i, ok := idx[st.zone]
		if !ok {
			continue
		}
		loads[i].total += st.weight
		if st.ready > 0 {
			loads[i].ready += st.weight
		}
	}
	return loads
}

// aggregateLocked is READY when a zone is, else the most hopeful state.
func (b *zoneBalancer) aggregateLocked() connectivity.State {
	var connecting, idle bool
	for _, z := range b.order {
		switch b.zones[z].state.ConnectivityState {
		case connectivity.Ready:
			return connectivity.Ready
		case connectivity.Connecting:
			connecting = true
		case connectivity.Idle:
			idle = true
		}
	}
	switch {
	case connecting:
		return connectivity.Connecting
	case idle:
		return connectivity.Idle
	}
	return connectivity.TransientFailure
}

func (b *zoneBalancer) logModeLocked(mode, zone string, loads []zoneLoad, sh []float64) {
	if mode != b.mode {
		logger.Infof("zoneaware %p: routing mode %s (local zone %q)", b, mode, zone)
		b.mode = mode
	}
	if logger.V(2) {
		logger.Infof("zoneaware %p: zones %+v get shares %v", b, loads, sh)
	}
}

// zoneCC is the ClientConn of one zone's child.
type zoneCC struct {
	balancer.ClientConn
	b     *zoneBalancer
	child *zoneChild
}

func (cc *zoneCC) NewSubConn(addrs []resolver.Address, opts balancer.NewSubConnOptions) (balancer.SubConn, error) {
	sc := &subConn{b: cc.b, listener: opts.StateListener, raw: connectivity.Idle}
	opts.StateListener = sc.onState
	//lint:ignore SA1019 a parent must wrap the method its child calls
	real, err := cc.ClientConn.NewSubConn(addrs, opts)
	if err != nil {
		return nil, err
	}
	cc.b.mu.Lock()
	sc.SubConn = real
	if len(addrs) > 0 {
		sc.ep = cc.b.endpoints[epKey{cc.child.zone, addrs[0].Addr}]
	}
	cc.b.mu.Unlock()
	return sc, nil
}

func (cc *zoneCC) RemoveSubConn(sc balancer.SubConn) {
	if w, ok := sc.(*subConn); ok {
		sc = w.SubConn
	}
	//lint:ignore SA1019 passed on for children that still call it
	cc.ClientConn.RemoveSubConn(sc)
}

func (cc *zoneCC) UpdateAddresses(sc balancer.SubConn, addrs []resolver.Address) {
	if w, ok := sc.(*subConn); ok {
		sc = w.SubConn
	}
	//lint:ignore SA1019 passed on for children that still call it
	cc.ClientConn.UpdateAddresses(sc, addrs)
}

// UpdateState records the child's state and, unless an update is in
// progress, publishes the zone picker built with it, in one critical
// section: the published picker never lags a recorded state.
func (cc *zoneCC) UpdateState(s balancer.State) {
	cc.b.mu.Lock()
	defer cc.b.mu.Unlock()
	if cc.b.zones[cc.child.zone] != cc.child {
		return // a closed child
	}
	cc.child.state = s
	cc.b.dirty = true
	cc.b.flushLocked()
}
