package outlier

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/base"
	"google.golang.org/grpc/balancer/pickfirst"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"
)

// Name is the name the policy is registered under.
const Name = "grpckit_outlier_ejection"

var logger = grpclog.Component("grpckit-outlier")

func init() { balancer.Register(NewBuilder()) }

// Option configures a Builder.
type Option func(*builder)

// WithClock makes the policy read time and set timers through c instead of
// the system clock.
func WithClock(c Clock) Option { return func(b *builder) { b.clock = c } }

// WithName registers the policy under name instead of Name, so that a
// differently optioned builder can live beside the default one.
func WithName(name string) Option { return func(b *builder) { b.name = name } }

// NewBuilder returns the policy's builder. The package registers one with the
// default options under Name; register another with WithName to use options.
func NewBuilder(opts ...Option) balancer.Builder {
	b := &builder{name: Name, clock: systemClock{}}
	for _, o := range opts {
		o(b)
	}
	return b
}

type builder struct {
	name  string
	clock Clock
}

func (bb *builder) Name() string { return bb.name }

func (bb *builder) ParseConfig(raw json.RawMessage) (serviceconfig.LoadBalancingConfig, error) {
	return parseConfig(raw)
}

func (bb *builder) Build(cc balancer.ClientConn, opts balancer.BuildOptions) balancer.Balancer {
	b := &outlierBalancer{
		ClientConn: cc,
		opts:       opts,
		clock:      bb.clock,
		target:     opts.Target.String(),
		serial:     newSerializer(),
		endpoints:  make(map[string]*endpoint),
	}
	b.sweepFn = b.sweep
	logger.Infof("outlier %p: created", b)
	return b
}

// outlierBalancer is the policy. It is the ClientConn of its child, so that it
// sees the child's SubConns and pickers.
//
// Calls into the child, and into listeners the child registered, run on
// serial only. mu guards the endpoint records and the timer; it is never held
// while the child or gRPC is called, except gRPC's non-blocking NewSubConn.
type outlierBalancer struct {
	balancer.ClientConn // the parent
	opts                balancer.BuildOptions
	clock               Clock
	target              string // the grpc.target metric label
	serial              *serializer
	sweepFn             func()
	kicked              atomic.Bool // a sweep is queued
	cfg                 atomic.Pointer[lbConfig]

	// Serializer only.
	child        balancer.Balancer
	childBuilder balancer.Builder

	mu           sync.Mutex
	endpoints    map[string]*endpoint // by address; several addresses may share one
	order        []*endpoint          // resolver order, one entry per endpoint
	nEjected     int
	nextInterval time.Time
	timer        Timer
	closed       bool
}

func (b *outlierBalancer) UpdateClientConnState(s balancer.ClientConnState) error {
	cfg, ok := s.BalancerConfig.(*lbConfig)
	if !ok || cfg == nil {
		return fmt.Errorf("outlier: unexpected config type %T", s.BalancerConfig)
	}
	prev := b.cfg.Swap(cfg)
	b.mu.Lock()
	b.setEndpointsLocked(s.ResolverState.Endpoints)
	retimed := prev != nil && (prev.baseEjection != cfg.baseEjection || prev.maxEjection != cfg.maxEjection)
	if retimed {
		b.retimeLocked(cfg)
	}
	if prev == nil || prev.interval != cfg.interval {
		b.nextInterval = b.clock.Now().Add(cfg.interval)
	}
	returned := b.capLocked(cfg)
	if prev == nil || prev.interval != cfg.interval || retimed || len(returned) > 0 {
		b.armLocked(b.clock.Now())
	}
	b.mu.Unlock()
	if retimed {
		b.kick() // an ejection the new times end already
	}

	childState := balancer.ClientConnState{
		ResolverState:  pickfirst.EnableHealthListener(s.ResolverState),
		BalancerConfig: cfg.child.Config,
	}
	errc := make(chan error, 1)
	if !b.serial.schedule(func() {
		for _, a := range returned {
			b.apply(a)
		}
		errc <- b.updateChild(cfg.child.Builder, childState)
	}) {
		return nil
	}
	return <-errc
}

// updateChild builds or replaces the child when its policy changed, then
// passes it the state. It runs on the serializer.
func (b *outlierBalancer) updateChild(bb balancer.Builder, s balancer.ClientConnState) error {
	if b.child == nil || b.childBuilder.Name() != bb.Name() {
		if b.child != nil {
			b.child.Close()
		}
		logger.Infof("outlier %p: child policy %q", b, bb.Name())
		b.child, b.childBuilder = bb.Build(b, b.opts), bb
	}
	return b.child.UpdateClientConnState(s)
}

// setEndpointsLocked keeps the records of endpoints still present, adds new
// ones and drops the rest. Each address maps to the first endpoint that
// lists it: a SubConn names only its address, so a SubConn for an address
// two endpoints share counts for the first. An endpoint whose first address
// an earlier one already has (a duplicate, mostly) is folded into it.
func (b *outlierBalancer) setEndpointsLocked(eps []resolver.Endpoint) {
	next := make(map[string]*endpoint, len(eps))
	order := make([]*endpoint, 0, len(eps))
	taken := make(map[*endpoint]bool, len(eps))
	for _, ep := range eps {
		if len(ep.Addresses) == 0 {
			continue
		}
		e := next[ep.Addresses[0].Addr]
		if e == nil {
			e = b.recordFor(ep, taken)
			taken[e] = true
			order = append(order, e)
		}
		for _, a := range ep.Addresses {
			if next[a.Addr] == nil {
				next[a.Addr] = e
			}
		}
	}
	b.endpoints, b.order, b.nEjected = next, order, 0
	for _, e := range order {
		if e.ejected {
			b.nEjected++
		}
	}
}

// recordFor returns the existing record of ep, found by any of its
// addresses, unless an endpoint of this update took it already; or a new
// one.
func (b *outlierBalancer) recordFor(ep resolver.Endpoint, taken map[*endpoint]bool) *endpoint {
	for _, a := range ep.Addresses {
		if e, ok := b.endpoints[a.Addr]; ok && !taken[e] {
			return e
		}
	}
	return newEndpoint(b, ep.Addresses[0].Addr)
}

func (b *outlierBalancer) ResolverError(err error) {
	b.serial.schedule(func() {
		if b.child != nil {
			b.child.ResolverError(err)
			return
		}
		b.mu.Lock()
		closed := b.closed
		b.mu.Unlock()
		if !closed {
			b.ClientConn.UpdateState(balancer.State{ConnectivityState: connectivity.TransientFailure,
				Picker: base.NewErrPicker(fmt.Errorf("outlier: resolver error: %w", err))})
		}
	})
}

func (b *outlierBalancer) UpdateSubConnState(sc balancer.SubConn, s balancer.SubConnState) {
	logger.Errorf("outlier %p: UpdateSubConnState(%v, %+v) called unexpectedly", b, sc, s)
}

func (b *outlierBalancer) ExitIdle() {
	b.serial.schedule(func() {
		if b.child != nil {
			b.child.ExitIdle()
		}
	})
}

func (b *outlierBalancer) Close() {
	b.mu.Lock()
	b.closed = true
	if b.timer != nil {
		b.timer.Stop()
	}
	b.mu.Unlock()
	b.serial.close(func() {
		if b.child != nil {
			b.child.Close()
		}
	})
	logger.Infof("outlier %p: closed", b)
}

// NewSubConn wraps the SubConn the child asks for.
func (b *outlierBalancer) NewSubConn(addrs []resolver.Address, opts balancer.NewSubConnOptions) (balancer.SubConn, error) {
	sc := &subConn{b: b, listener: opts.StateListener}
	opts.StateListener = sc.onState
	//lint:ignore SA1019 a parent must wrap the method its child calls
	real, err := b.ClientConn.NewSubConn(addrs, opts)
	if err != nil {
		return nil, err
	}
	sc.SubConn = real
	b.mu.Lock()
	if len(addrs) > 0 {
		sc.ep = b.endpoints[addrs[0].Addr]
	}
	if sc.ep != nil {
		sc.ep.subConns[sc] = struct{}{}
		sc.ejected = sc.ep.ejected
	}
	b.mu.Unlock()
	if sc.ejected {
		sc.tellParent()
	}
	return sc, nil
}

// forget drops a shut-down SubConn from its endpoint.
func (b *outlierBalancer) forget(sc *subConn) {
	if sc.ep == nil {
		return
	}
	b.mu.Lock()
	delete(sc.ep.subConns, sc)
	b.mu.Unlock()
}

// RemoveSubConn is deprecated in gRPC; pass it on for children that use it.
func (b *outlierBalancer) RemoveSubConn(sc balancer.SubConn) {
	if w, ok := sc.(*subConn); ok {
		sc = w.SubConn
	}
	//lint:ignore SA1019 passed on for children that still call it
	b.ClientConn.RemoveSubConn(sc)
}

// UpdateAddresses is deprecated in gRPC; pass it on for children that use it.
func (b *outlierBalancer) UpdateAddresses(sc balancer.SubConn, addrs []resolver.Address) {
	if w, ok := sc.(*subConn); ok {
		sc = w.SubConn
	}
	//lint:ignore SA1019 passed on for children that still call it
	b.ClientConn.UpdateAddresses(sc, addrs)
}

// UpdateState wraps the child's picker.
func (b *outlierBalancer) UpdateState(s balancer.State) {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return
	}
	if s.Picker != nil {
		s.Picker = &picker{child: s.Picker, b: b}
	}
	b.ClientConn.UpdateState(s)
}
