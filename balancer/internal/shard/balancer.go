package shard

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/base"
	"google.golang.org/grpc/balancer/endpointsharding"
	"google.golang.org/grpc/balancer/pickfirst"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// Ready is one READY endpoint handed to Policy.Picker.
type Ready[S any] struct {
	Endpoint   resolver.Endpoint
	Addr       string          // the endpoint's first address; the sort key
	Picker     balancer.Picker // the endpoint's pickfirst picker
	Weight     uint32          // kitresolver.WeightOf(Endpoint), never 0
	ReadySince int64           // Clock time at which the endpoint last became READY
	State      S               // what Policy.NewState returned for the endpoint
}

// Policy is what a load-balancing policy plugs into Balancer. Its methods are
// called with the Balancer's mutex held, one at a time; they must not call
// back into the Balancer or block.
type Policy[S any] interface {
	// SetConfig takes the configuration of a resolver update (nil means the
	// defaults). An error rejects the update.
	SetConfig(cfg serviceconfig.LoadBalancingConfig) error
	// NewState returns the state for an endpoint seen for the first time.
	// It lives as long as the endpoint stays in the resolver's list.
	NewState(ep resolver.Endpoint, now int64) S
	// Picker returns a picker over ready (sorted by Addr, never empty), and
	// how long after now it wants to be asked again although nothing changed
	// (0 for never), e.g. while an endpoint's slow start ramps.
	Picker(ready []Ready[S], now int64) (balancer.Picker, time.Duration)
}

// entry is the Balancer's record of one endpoint.
type entry[S any] struct {
	state      S
	ready      bool
	readySince int64
}

// Balancer runs a Policy over endpointsharding with pickfirst children. It
// implements balancer.Balancer, and balancer.ClientConn towards its child.
//
// Lock order: endpointsharding's mutex, then mu. endpointsharding calls
// UpdateState with its own mutex held, so no method calls the child while
// holding mu. The parent ClientConn's UpdateState is called with mu held so
// that pickers from UpdateState and from timed refreshes are published in the
// order they were built; it does not call back into the balancer.
type Balancer[S any] struct {
	balancer.ClientConn // the parent; UpdateState is intercepted

	name   string
	child  balancer.Balancer
	policy Policy[S]
	clock  Clock
	logger grpclog.DepthLoggerV2

	mu          sync.Mutex
	entries     *resolver.EndpointMap[*entry[S]]
	children    []endpointsharding.ChildState // from the newest child picker
	childState  balancer.State                // the newest aggregate from endpointsharding
	resolverErr error
	timer       *time.Timer
	closed      bool
}

// New returns a Balancer named name (used in error messages) that runs
// policy on cc.
func New[S any](cc balancer.ClientConn, opts balancer.BuildOptions, name string, policy Policy[S], clock Clock, logger grpclog.DepthLoggerV2) *Balancer[S] {
	b := &Balancer[S]{
		ClientConn: cc,
		name:       name,
		policy:     policy,
		clock:      clock,
		logger:     logger,
		entries:    resolver.NewEndpointMap[*entry[S]](),
	}
	b.child = endpointsharding.NewBalancer(b, opts, balancer.Get(pickfirst.Name).Build, endpointsharding.Options{})
	return b
}

// UpdateClientConnState records new endpoints, forgets removed ones and passes
// the list to the children, which publish a picker before it returns. An empty
// list returns balancer.ErrBadResolverState so gRPC re-resolves.
func (b *Balancer[S]) UpdateClientConnState(ccs balancer.ClientConnState) error {
	eps := ccs.ResolverState.Endpoints
	if b.logger.V(2) {
		b.logger.Infof("%s: resolver update with %d endpoints", b.name, len(eps))
	}
	b.mu.Lock()
	if err := b.policy.SetConfig(ccs.BalancerConfig); err != nil {
		b.mu.Unlock()
		return err
	}
	b.resolverErr = nil
	b.syncEntriesLocked(eps)
	b.mu.Unlock()
	err := b.child.UpdateClientConnState(balancer.ClientConnState{
		ResolverState: pickfirst.EnableHealthListener(ccs.ResolverState),
	})
	if len(eps) == 0 {
		return balancer.ErrBadResolverState
	}
	return err
}

// syncEntriesLocked keeps the entries of endpoints still present and creates
// the others.
func (b *Balancer[S]) syncEntriesLocked(eps []resolver.Endpoint) {
	now := b.clock()
	next := resolver.NewEndpointMap[*entry[S]]()
	for _, ep := range eps {
		e, ok := b.entries.Get(ep)
		if !ok {
			e = &entry[S]{state: b.policy.NewState(ep, now)}
		}
		next.Set(ep, e)
	}
	b.entries = next
}

// ResolverError forwards err to the children; with no endpoints it becomes
// the error RPCs fail with.
func (b *Balancer[S]) ResolverError(err error) {
	b.mu.Lock()
	b.resolverErr = err
	b.mu.Unlock()
	b.child.ResolverError(err)
}

// UpdateSubConnState is not used: pickfirst children register listeners.
func (b *Balancer[S]) UpdateSubConnState(sc balancer.SubConn, s balancer.SubConnState) {
	b.logger.Errorf("%s: unexpected UpdateSubConnState(%v, %+v)", b.name, sc, s)
}

// ExitIdle asks every child to connect.
func (b *Balancer[S]) ExitIdle() { b.child.ExitIdle() }

// Close shuts the children down and stops timed refreshes.
func (b *Balancer[S]) Close() {
	b.child.Close()
	b.mu.Lock()
	b.closed = true
	if b.timer != nil {
		b.timer.Stop()
	}
	b.mu.Unlock()
}

// UpdateState receives endpointsharding's aggregate state and publishes the
// policy's picker in its place.
func (b *Balancer[S]) UpdateState(s balancer.State) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.childState = s
	b.children = endpointsharding.ChildStatesFromPicker(s.Picker)
	b.publishLocked()
}

// refresh rebuilds the picker from the last child states; timers call it.
func (b *Balancer[S]) refresh() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.publishLocked()
	}
}

// Refresh rebuilds and publishes the picker now, as a timed refresh would.
// Tests on virtual time call it after moving their clock.
func (b *Balancer[S]) Refresh() { b.refresh() }

// publishLocked builds and publishes the picker for the current child states.
func (b *Balancer[S]) publishLocked() {
	now := b.clock()
	ready := b.readyLocked(now)
	switch {
	case len(b.children) == 0:
		b.armLocked(0)
		b.ClientConn.UpdateState(balancer.State{
			ConnectivityState: connectivity.TransientFailure,
			Picker:            base.NewErrPicker(b.noEndpointsErrLocked()),
		})
	case len(ready) == 0:
		b.armLocked(0)
		b.ClientConn.UpdateState(b.childState)
	default:
		p, after := b.policy.Picker(ready, now)
		b.armLocked(after)
		b.ClientConn.UpdateState(balancer.State{ConnectivityState: connectivity.Ready, Picker: p})
	}
}

func (b *Balancer[S]) noEndpointsErrLocked() error {
	if b.resolverErr != nil {
		return fmt.Errorf("%s: no endpoints: resolver error: %v", b.name, b.resolverErr)
	}
	return fmt.Errorf("%s: the resolver returned no endpoints", b.name)
}

// readyLocked notes READY transitions and returns the READY endpoints sorted
// by address.
func (b *Balancer[S]) readyLocked(now int64) []Ready[S] {
	ready := make([]Ready[S], 0, len(b.children))
	for _, cs := range b.children {
		e, ok := b.entries.Get(cs.Endpoint)
		if !ok {
			continue // removed while the child update was in flight
		}
		isReady := cs.State.ConnectivityState == connectivity.Ready
		if isReady && !e.ready {
			e.readySince = now
		}
		e.ready = isReady
		if isReady {
			ready = append(ready, Ready[S]{
				Endpoint:   cs.Endpoint,
				Addr:       firstAddr(cs.Endpoint),
				Picker:     cs.State.Picker,
				Weight:     kitresolver.WeightOf(cs.Endpoint),
				ReadySince: e.readySince,
				State:      e.state,
			})
		}
	}
	slices.SortFunc(ready, func(x, y Ready[S]) int { return cmp.Compare(x.Addr, y.Addr) })
	return ready
}

// armLocked schedules a refresh after d, or cancels it when d is 0.
func (b *Balancer[S]) armLocked(d time.Duration) {
	switch {
	case d <= 0 && b.timer != nil:
		b.timer.Stop()
	case d <= 0:
	case b.timer == nil:
		b.timer = time.AfterFunc(d, b.refresh)
	default:
		b.timer.Reset(d)
	}
}

func firstAddr(ep resolver.Endpoint) string {
	if len(ep.Addresses) == 0 {
		return ""
	}
	return ep.Addresses[0].Addr
}
