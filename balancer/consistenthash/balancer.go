package consistenthash

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/base"
	"google.golang.org/grpc/balancer/endpointsharding"
	"google.golang.org/grpc/balancer/pickfirst"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/serviceconfig"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// Name is the name of the policy in the service config.
const Name = "grpckit_consistent_hash"

var logger = grpclog.Component("grpckit-consistenthash")

func init() {
	balancer.Register(builder{})
}

type builder struct{}

func (builder) Name() string { return Name }

func (builder) ParseConfig(js json.RawMessage) (serviceconfig.LoadBalancingConfig, error) {
	return parseConfig(js)
}

func (builder) Build(cc balancer.ClientConn, opts balancer.BuildOptions) balancer.Balancer {
	b := &chBalancer{ClientConn: cc, cc: cc, loads: make(map[string]*load)}
	b.child = endpointsharding.NewBalancer(b, opts, balancer.Get(pickfirst.Name).Build, endpointsharding.Options{})
	return b
}

// chBalancer keeps one pickfirst child per endpoint (through endpointsharding)
// and publishes a picker over a table of all endpoints.
//
// Locking: mu guards the fields below it. endpointsharding calls UpdateState
// while holding its own mutex, so the order is endpointsharding's mutex, then
// mu. The balancer never calls into the child while holding mu; it does call
// cc.UpdateState under mu, as endpointsharding does, so that pickers are
// published in the order they were built.
type chBalancer struct {
	balancer.ClientConn // intercepts UpdateState from endpointsharding; the rest is forwarded

	cc       balancer.ClientConn
	child    balancer.Balancer
	inflight atomic.Int64 // requests in flight under bounded loads

	mu       sync.Mutex
	cfg      *LBConfig
	inhibit  bool                          // an update from above is in progress
	children []endpointsharding.ChildState // its children
	resErr   error                         // the resolver's error since its last update
	table    *table
	loads    map[string]*load // by address; survive picker rebuilds
}

// UpdateClientConnState hands the endpoints to endpointsharding and publishes
// one picker for the result.
func (b *chBalancer) UpdateClientConnState(s balancer.ClientConnState) error {
	cfg, ok := s.BalancerConfig.(*LBConfig)
	if !ok {
		if s.BalancerConfig != nil {
			return fmt.Errorf("consistenthash: unexpected config type %T", s.BalancerConfig)
		}
		cfg, _ = parseConfig(nil)
	}
	b.mu.Lock()
	b.cfg, b.inhibit, b.resErr = cfg, true, nil
	b.mu.Unlock()

	err := b.child.UpdateClientConnState(balancer.ClientConnState{
		ResolverState: pickfirst.EnableHealthListener(s.ResolverState),
	})

	b.mu.Lock()
	b.inhibit = false
	b.publishLocked()
	b.mu.Unlock()
	return err
}

// ResolverError is forwarded to the children, which keep their endpoints;
// with none, RPCs fail with err.
func (b *chBalancer) ResolverError(err error) {
	b.mu.Lock()
	b.resErr = err
	b.mu.Unlock()
	b.child.ResolverError(err)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.children) == 0 {
		b.publishLocked()
	}
}

// UpdateSubConnState is not used: pickfirst children register listeners.
func (b *chBalancer) UpdateSubConnState(sc balancer.SubConn, s balancer.SubConnState) {
	logger.Errorf("consistenthash: unexpected UpdateSubConnState(%v, %+v)", sc, s)
}

// ExitIdle wakes every child.
func (b *chBalancer) ExitIdle() { b.child.ExitIdle() }

// Close closes every child.
func (b *chBalancer) Close() { b.child.Close() }

// UpdateState receives endpointsharding's aggregate and publishes a picker of
// this policy in its place.
func (b *chBalancer) UpdateState(s balancer.State) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.children = endpointsharding.ChildStatesFromPicker(s.Picker)
	if b.inhibit {
		return
	}
	b.publishLocked()
}

// publishLocked sends a picker built from the latest child states. With no
// endpoints (none from the resolver, or a resolver error before any) RPCs fail
// with an error that says which.
func (b *chBalancer) publishLocked() {
	eps := b.tableEndpointsLocked()
	if len(eps) == 0 || b.cfg == nil {
		b.table = nil
		if b.cfg != nil || b.resErr != nil {
			b.cc.UpdateState(balancer.State{ConnectivityState: connectivity.TransientFailure, Picker: base.NewErrPicker(b.noEndpointsErrLocked())})
		}
		return
	}
	if !b.table.sameEndpoints(eps, b.cfg.RingSize) {
		b.table = newTable(eps, b.cfg.RingSize)
		if logger.V(2) {
			logger.Infof("consistenthash: table of %d endpoints, %d slots", len(eps), b.cfg.RingSize)
		}
	}
	p := b.newPickerLocked()
	b.cc.UpdateState(balancer.State{ConnectivityState: p.state, Picker: p})
}

// noEndpointsErrLocked is the error of RPCs made with no endpoints.
func (b *chBalancer) noEndpointsErrLocked() error {
	if b.resErr != nil {
		return fmt.Errorf("consistenthash: no endpoints: resolver error: %w", b.resErr)
	}
	return errors.New("consistenthash: the resolver returned no endpoints")
}

// tableEndpointsLocked returns the children's endpoints sorted by address,
// dropping those without an address and those past maxEndpoints. It also
// forgets the loads of endpoints that left.
func (b *chBalancer) tableEndpointsLocked() []tableEndpoint {
	eps := make([]tableEndpoint, 0, len(b.children))
	for _, c := range b.children {
		if len(c.Endpoint.Addresses) == 0 {
			continue
		}
		eps = append(eps, tableEndpoint{addr: c.Endpoint.Addresses[0].Addr, weight: max(kitresolver.WeightOf(c.Endpoint), 1)})
	}
	sortEndpoints(eps)
	eps = slices.CompactFunc(eps, func(x, y tableEndpoint) bool { return x.addr == y.addr })
	if len(eps) > maxEndpoints {
		logger.Errorf("consistenthash: %d endpoints, using the first %d by address", len(eps), maxEndpoints)
		eps = eps[:maxEndpoints]
	}
	b.pruneLoadsLocked(eps)
	return eps
}

// pruneLoadsLocked drops the loads of endpoints not in eps. In-flight requests
// on them still release their own counters.
func (b *chBalancer) pruneLoadsLocked(eps []tableEndpoint) {
	for addr := range b.loads {
		if _, found := slices.BinarySearchFunc(eps, addr, func(e tableEndpoint, a string) int { return cmp.Compare(e.addr, a) }); !found {
			delete(b.loads, addr)
		}
	}
}

// newPickerLocked snapshots the table and the children's states.
func (b *chBalancer) newPickerLocked() *picker {
	p := &picker{
		table:      b.table,
		eps:        make([]pickEndpoint, len(b.table.eps)),
		header:     b.cfg.HashHeader,
		failNoKey:  b.cfg.MissingKey == MissingKeyFail,
		loadFactor: b.cfg.LoadFactor,
		inflight:   &b.inflight,
	}
	var counts [5]int // by connectivity.State
	for _, c := range b.children {
		i, ok := p.indexOf(c)
		if !ok {
			continue
		}
		st := c.State.ConnectivityState
		counts[st]++
		e := &p.eps[i]
		if e.picker != nil && (e.ready || st != connectivity.Ready) {
			continue // endpoints that share a first address share an entry: a READY one wins
		}
		e.picker, e.ready, e.weight, e.load = c.State.Picker, st == connectivity.Ready, float64(b.table.eps[i].weight), b.loadLocked(b.table.eps[i].addr)
	}
	for i := range p.eps {
		if p.eps[i].ready {
			p.ready++
			p.readyW += p.eps[i].weight
		}
	}
	p.state = aggregate(counts)
	return p
}

// indexOf returns the table index of child c.
func (p *picker) indexOf(c endpointsharding.ChildState) (int, bool) {
	if len(c.Endpoint.Addresses) == 0 {
		return 0, false
	}
	return slices.BinarySearchFunc(p.table.eps, c.Endpoint.Addresses[0].Addr, func(e tableEndpoint, a string) int { return cmp.Compare(e.addr, a) })
}

// loadLocked returns addr's load counter, creating it on first use.
func (b *chBalancer) loadLocked(addr string) *load {
	l, ok := b.loads[addr]
	if !ok {
		l = newLoad(&b.inflight)
		b.loads[addr] = l
	}
	return l
}

// aggregate returns the policy's state from its children's: READY if any is,
// else CONNECTING, else IDLE, else TRANSIENT_FAILURE.
func aggregate(counts [5]int) connectivity.State {
	for _, s := range []connectivity.State{connectivity.Ready, connectivity.Connecting, connectivity.Idle} {
		if counts[s] > 0 {
			return s
		}
	}
	return connectivity.TransientFailure
}
