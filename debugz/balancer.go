package debugz

import (
	"encoding/json"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/base"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

var logger = grpclog.Component("grpckit-debugz")

// PolicyName is the name the debugz policy is registered under.
const PolicyName = "grpckit_debugz"

func init() { balancer.Register(policyBuilder{}) }

type policyBuilder struct{}

func (policyBuilder) Name() string { return PolicyName }

func (policyBuilder) ParseConfig(raw json.RawMessage) (serviceconfig.LoadBalancingConfig, error) {
	return parseConfig(raw)
}

func (policyBuilder) Build(cc balancer.ClientConn, opts balancer.BuildOptions) balancer.Balancer {
	b := &debugBalancer{ClientConn: cc, opts: opts}
	b.entry = &balancerEntry{
		target: opts.Target.String(),
		byAddr: make(map[string]*endpointStats),
		scs:    make(map[balancer.SubConn]*endpointStats),
		state:  connectivity.Idle,
	}
	return b
}

// debugBalancer is the policy: the ClientConn of its child, so that it sees
// the child's SubConns and pickers. gRPC calls its Balancer methods one at
// a time; the child may call its ClientConn methods from any goroutine,
// which touch only the entry, under the entry's lock.
type debugBalancer struct {
	balancer.ClientConn // the parent
	opts                balancer.BuildOptions
	entry               *balancerEntry

	// Touched by gRPC's calls only.
	child        balancer.Balancer
	childBuilder balancer.Builder
	page         *Page // where the entry is registered; nil before
}

func (b *debugBalancer) UpdateClientConnState(s balancer.ClientConnState) error {
	cfg, ok := s.BalancerConfig.(*lbConfig)
	if !ok || cfg == nil {
		return fmt.Errorf("debugz: unexpected config type %T", s.BalancerConfig)
	}
	if tag := tagFrom(s.ResolverState); tag != nil && b.page == nil {
		b.page = tag.page
		b.entry.register(tag)
	}
	b.entry.setEndpoints(s.ResolverState)
	if b.child == nil || b.childBuilder.Name() != cfg.childBuilder.Name() {
		if b.child != nil {
			b.child.Close()
		}
		b.child, b.childBuilder = cfg.childBuilder.Build(b, b.opts), cfg.childBuilder
		b.entry.setChildName(cfg.childBuilder.Name())
	}
	return b.child.UpdateClientConnState(balancer.ClientConnState{
		ResolverState:  s.ResolverState,
		BalancerConfig: cfg.childConfig,
	})
}

// ResolverError passes err to the child; before there is one (the resolver
// failed before its first state), calls fail with it at once rather than
// waiting for a state that may not come.
func (b *debugBalancer) ResolverError(err error) {
	if b.child != nil {
		b.child.ResolverError(err)
		return
	}
	b.ClientConn.UpdateState(balancer.State{
		ConnectivityState: connectivity.TransientFailure,
		Picker:            base.NewErrPicker(fmt.Errorf("debugz: resolver error: %w", err)),
	})
}

// UpdateSubConnState is not called: every SubConn has a StateListener.
func (b *debugBalancer) UpdateSubConnState(sc balancer.SubConn, s balancer.SubConnState) {
	logger.Errorf("debugz %p: UpdateSubConnState(%v, %+v) called unexpectedly", b, sc, s)
}

func (b *debugBalancer) ExitIdle() {
	if b.child != nil {
		b.child.ExitIdle()
	}
}

func (b *debugBalancer) Close() {
	if b.child != nil {
		b.child.Close()
	}
	if b.page != nil {
		b.page.removeBalancer(b.entry)
	}
}

// NewSubConn records the connectivity states of the child's SubConns on
// the way to the child's listener. The SubConn returned is the parent's
// own, unwrapped, so interfaces its parent gives it stay visible to the
// child.
func (b *debugBalancer) NewSubConn(addrs []resolver.Address, opts balancer.NewSubConnOptions) (balancer.SubConn, error) {
	addr := ""
	if len(addrs) > 0 {
		addr = addrs[0].Addr
	}
	rec := b.entry.recordFor(addr)
	holder := &subConnHolder{}
	listener := opts.StateListener
	opts.StateListener = func(s balancer.SubConnState) {
		rec.state.Store(int32(s.ConnectivityState))
		if s.ConnectivityState == connectivity.Shutdown {
			b.entry.forget(holder)
		}
		if listener != nil {
			listener(s)
		}
	}
	//lint:ignore SA1019 a parent must wrap the method its child calls
	sc, err := b.ClientConn.NewSubConn(addrs, opts)
	if err != nil {
		return nil, err
	}
	b.entry.remember(holder, sc, rec)
	return sc, nil
}

func (b *debugBalancer) UpdateState(s balancer.State) {
	b.ClientConn.UpdateState(b.entry.wrap(s))
}

// subConnHolder names a SubConn to its own listener, which may run before
// NewSubConn returns it. The entry's lock guards sc.
type subConnHolder struct{ sc balancer.SubConn }

// balancerEntry is one channel's record. mu guards the fields below it;
// endpointStats are updated with atomics.
type balancerEntry struct {
	id         uint64
	target     string
	resolverID uint64

	mu          sync.Mutex
	onPage      bool // registered with a page: pickers are counted
	childName   string
	state       connectivity.State
	childPicker balancer.Picker
	addrs       []string                  // the resolver's addresses, in order
	ids         map[string]string         // address → the id of its Instance
	byAddr      map[string]*endpointStats // the addresses' and SubConns' records
	scs         map[balancer.SubConn]*endpointStats
}

func (p *Page) removeBalancer(e *balancerEntry) {
	p.mu.Lock()
	delete(p.balancers, e)
	p.mu.Unlock()
}

func (e *balancerEntry) register(tag *channelTag) {
	e.mu.Lock()
	e.id, e.resolverID = tag.page.nextID.Add(1), tag.resolverID
	e.target, e.onPage = tag.target, true
	e.mu.Unlock()
	tag.page.mu.Lock()
	tag.page.balancers[e] = struct{}{}
	tag.page.mu.Unlock()
}

func (e *balancerEntry) setChildName(name string) {
	e.mu.Lock()
	e.childName = name
	e.mu.Unlock()
}

// setEndpoints keeps the records of the state's addresses, adding the new
// ones, and drops those of addresses gone, unless a SubConn still uses one.
func (e *balancerEntry) setEndpoints(s resolver.State) {
	var addrs []string
	ids := make(map[string]string)
	for _, ep := range s.Endpoints {
		inst, hasInst := kitresolver.InstanceFrom(ep)
		for _, a := range ep.Addresses {
			addrs = append(addrs, a.Addr)
			if hasInst && ids[a.Addr] == "" {
				ids[a.Addr] = inst.ID
			}
		}
	}
	for _, a := range s.Addresses {
		addrs = append(addrs, a.Addr)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	next := make(map[string]*endpointStats, len(addrs))
	kept := addrs[:0]
	for _, a := range addrs {
		if next[a] != nil {
			continue
		}
		kept = append(kept, a)
		next[a] = e.byAddr[a]
		if next[a] == nil {
			next[a] = newEndpointStats(a)
		}
	}
	for _, rec := range e.scs {
		next[rec.addr] = rec
	}
	e.addrs, e.byAddr, e.ids = kept, next, ids
}

func (e *balancerEntry) recordFor(addr string) *endpointStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	rec := e.byAddr[addr]
	if rec == nil {
		rec = newEndpointStats(addr)
		e.byAddr[addr] = rec
	}
	return rec
}

func (e *balancerEntry) remember(h *subConnHolder, sc balancer.SubConn, rec *endpointStats) {
	e.mu.Lock()
	h.sc = sc
	e.scs[sc] = rec
	e.mu.Unlock()
}

func (e *balancerEntry) forget(h *subConnHolder) {
	e.mu.Lock()
	if h.sc != nil {
		delete(e.scs, h.sc)
	}
	e.mu.Unlock()
}

// wrap records the child's state and, on a channel shown on a page,
// returns it with a picker that counts picks and calls in flight per
// endpoint.
func (e *balancerEntry) wrap(s balancer.State) balancer.State {
	e.mu.Lock()
	e.state, e.childPicker = s.ConnectivityState, s.Picker
	onPage := e.onPage
	var scs map[balancer.SubConn]*endpointStats
	if onPage {
		scs = maps.Clone(e.scs)
	}
	e.mu.Unlock()
	if onPage && s.Picker != nil {
		s.Picker = &picker{child: s.Picker, scs: scs}
	}
	return s
}

// endpointStats is one address's counters.
type endpointStats struct {
	addr     string
	state    atomic.Int32 // connectivity.State; -1 before the first
	picks    atomic.Uint64
	inFlight atomic.Int64
	done     func(balancer.DoneInfo) // e.doneCall, bound once
}

func newEndpointStats(addr string) *endpointStats {
	s := &endpointStats{addr: addr}
	s.state.Store(-1)
	s.done = s.doneCall
	return s
}

func (s *endpointStats) doneCall(balancer.DoneInfo) { s.inFlight.Add(-1) }
