// Package policytest runs a load-balancing policy through random sequences of
// updates over a fake ClientConn and checks, after every step, what any
// grpckit policy must guarantee:
//
//   - Pick returns within a bound (it is run under a timeout guard);
//   - only SubConns whose last state is READY, of endpoints in the newest
//     resolver update, are picked;
//   - the published state follows the newest one: READY while some endpoint
//     is READY (and cannot all be ejected), not READY and no SubConn picked
//     while none is, TRANSIENT_FAILURE failing fast after an empty update,
//     the resolver's error when it failed before any endpoint arrived;
//   - a policy's own invariants (Spec.Check: counters never negative, …);
//   - no goroutine is left behind once the balancer is closed.
//
// The steps are endpoint sets (weights, zones, endpoints sharing an address),
// SubConn state changes along gRPC's state machine, configuration changes,
// resolver errors, ExitIdle, and picks whose Done is called later with
// successes and failures. Sequences are seeded and reproducible: the seed is
// logged, and -policytest.seed replays one.
package policytest

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/balancer/consistenthash"
	"github.com/grpckit/grpckit/balancer/internal/shardtest"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

var seedFlag = flag.Uint64("policytest.seed", 0, "replay the sequences of this seed (0: a new seed)")

// Spec is a policy under test.
type Spec struct {
	// Name is the registered policy name.
	Name string
	// Configs are JSON configurations the sequence switches between; the
	// first is used from the start. Empty means {} only.
	Configs []string
	// MaxEjectedPercent is, for policies that may take READY endpoints out
	// of rotation (outlier ejection), the share of endpoints they may take
	// out; the READY liveness check then needs more READY endpoints than
	// that. 0 for the others.
	MaxEjectedPercent int
	// Check, if set, checks the policy's own invariants on the newest
	// published picker; outstanding is the number of picks whose Done has
	// not been called yet.
	Check func(p balancer.Picker, outstanding int) error
	// Done, if set, checks the policy's own invariants once every pick is
	// done, before the balancer is closed.
	Done func(p balancer.Picker) error
}

// Options size a run.
type Options struct {
	Seeds int // sequences per Run
	Steps int // steps per sequence
}

// DefaultOptions is what Run uses for zero Options.
var DefaultOptions = Options{Seeds: 4, Steps: 200}

// PickTimeout bounds one Pick: a Pick that takes longer is reported as hung.
const PickTimeout = 5 * time.Second

// SettleTimeout bounds how long a published state may lag behind the step
// that changed it (a policy that publishes from its own goroutines).
const SettleTimeout = 10 * time.Second

// Run runs spec through opts.Seeds random sequences (more, up to 8 times as
// many, while none had a step whose pick must succeed), one subtest each, named
// by seed.
func Run(t *testing.T, spec Spec, opts Options) {
	t.Helper()
	if opts.Seeds == 0 {
		opts.Seeds = DefaultOptions.Seeds
	}
	if opts.Steps == 0 {
		opts.Steps = DefaultOptions.Steps
	}
	seed, n := *seedFlag, opts.Seeds
	if seed == 0 {
		seed = rand.Uint64() >> 1
	} else {
		n = 1
	}
	t.Logf("%s: seeds from %d (replay one with -policytest.seed=<seed>)", spec.Name, seed)
	configs := parseConfigs(t, spec)
	var readySteps, picks int
	// After the Seeds sequences, more (up to 8 times as many) while none
	// had a step with a pick that must succeed: under a parent that may
	// eject half the endpoints such steps are rare, and a run must not pass
	// on sequences that checked nothing.
	replay := *seedFlag != 0
	for i := uint64(0); i < uint64(n) || !replay && readySteps == 0 && i < 8*uint64(n); i++ {
		s := seed + i
		t.Run(fmt.Sprint(s), func(t *testing.T) {
			r, p := Sequence(t, spec, configs, s, opts.Steps)
			readySteps, picks = readySteps+r, picks+p
		})
	}
	if !t.Failed() && (readySteps == 0 || picks == 0) {
		t.Errorf("seeds from %d: no sequence had a READY endpoint to pick; the test is vacuous", seed)
	}
}

// parseConfigs parses spec.Configs with the policy's own parser.
func parseConfigs(t *testing.T, spec Spec) []serviceconfig.LoadBalancingConfig {
	t.Helper()
	b := balancer.Get(spec.Name)
	if b == nil {
		t.Fatalf("policy %q is not registered", spec.Name)
	}
	js := spec.Configs
	if len(js) == 0 {
		js = []string{"{}"}
	}
	parser, ok := b.(balancer.ConfigParser)
	if !ok {
		return make([]serviceconfig.LoadBalancingConfig, len(js))
	}
	out := make([]serviceconfig.LoadBalancingConfig, len(js))
	for i, j := range js {
		cfg, err := parser.ParseConfig(json.RawMessage(j))
		if err != nil {
			t.Fatalf("%s: ParseConfig(%s): %v", spec.Name, j, err)
		}
		out[i] = cfg
	}
	return out
}

// Sequence runs one sequence of steps drawn from seed, and returns after how
// many steps some endpoint was READY and how many picks returned a SubConn.
func Sequence(t *testing.T, spec Spec, configs []serviceconfig.LoadBalancingConfig, seed uint64, steps int) (readySteps, picks int) {
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		if !t.Failed() {
			goleak.VerifyNone(t, leaks)
		}
	})
	s := newSequence(t, spec, configs, seed)
	defer s.close()
	for s.step = 0; s.step < steps; s.step++ {
		var op string
		if s.step == 0 && s.r.IntN(2) == 0 {
			op = s.resolverError() // before any endpoint
		} else {
			op = s.next()
		}
		s.log = append(s.log, op)
		if err := s.check(); err != nil {
			s.fail(err)
		}
	}
	s.finishAll()
	t.Logf("%d steps, %d with a READY endpoint, %d picks", steps, s.readySteps, s.pickCount)
	if spec.Done != nil {
		if err := spec.Done(s.cc.LastState().Picker); err != nil {
			s.fail(fmt.Errorf("after every pick was done: %v", err))
		}
	}
	return s.readySteps, s.pickCount
}

// sequence is the state of one run: the fake ClientConn, the balancer, and
// the model of what the test told it.
type sequence struct {
	t       *testing.T
	spec    Spec
	configs []serviceconfig.LoadBalancingConfig
	seed    uint64
	r       *rand.Rand
	cc      *clientConn
	b       balancer.Balancer
	step    int
	log     []string

	cfg         int                 // index in configs of the newest configuration
	endpoints   []resolver.Endpoint // of the newest update
	updated     bool                // an update has been sent
	resolverErr error               // the newest resolver error, before any endpoint arrived
	outstanding []func(balancer.DoneInfo)
	closed      bool
	readySteps  int // steps after which some endpoint was READY
	pickCount   int // picks that returned a SubConn
}

func newSequence(t *testing.T, spec Spec, configs []serviceconfig.LoadBalancingConfig, seed uint64) *sequence {
	cc := &clientConn{ClientConn: shardtest.NewClientConn(t), states: map[balancer.SubConn]*scState{}}
	s := &sequence{
		t: t, spec: spec, configs: configs, seed: seed,
		r:  rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		cc: cc,
	}
	s.b = balancer.Get(spec.Name).Build(cc, balancer.BuildOptions{})
	return s
}

func (s *sequence) close() {
	if !s.closed {
		s.closed = true
		s.finishAll()
		s.b.Close()
	}
}

// fail reports err with the seed and the last steps, and stops the sequence.
func (s *sequence) fail(err error) {
	s.t.Helper()
	from := max(0, len(s.log)-12)
	s.t.Fatalf("%s seed %d step %d: %v\nlast steps:\n  %s", s.spec.Name, s.seed, s.step, err, strings.Join(s.log[from:], "\n  "))
}

// next draws and applies one step, and describes it.
func (s *sequence) next() string {
	switch k := s.r.IntN(100); {
	case k < 25:
		return s.update(s.randomEndpoints(), s.maybeConfig(30))
	case k < 30:
		return s.update(s.endpoints, s.r.IntN(len(s.configs)))
	case k < 65:
		return s.moveSubConn()
	case k < 70:
		return s.resolverError()
	case k < 72:
		s.b.ExitIdle()
		return "ExitIdle"
	default:
		return s.picks()
	}
}

// resolverError reports a resolver error to the balancer.
func (s *sequence) resolverError() string {
	err := fmt.Errorf("policytest: resolver failure %d", s.step)
	if !s.updated {
		s.resolverErr = err
	}
	s.b.ResolverError(err)
	return "ResolverError: " + err.Error()
}

// maybeConfig returns the index of a random configuration with probability
// pct%, else the current one's.
func (s *sequence) maybeConfig(pct int) int {
	if s.r.IntN(100) < pct {
		return s.r.IntN(len(s.configs))
	}
	return s.cfg
}

// addrs is the pool endpoints are drawn from.
var addrs = []string{"10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1", "10.0.0.4:1", "10.0.0.5:1", "10.0.0.6:1", "10.0.0.7:1"}

var zones = []string{"a", "b", "c", ""}

// randomEndpoints draws an endpoint set: rarely empty; weights mostly small,
// sometimes 0 or above MaxWeight; zones a, b, c or none; now and then an
// endpoint with a second address, which may be another endpoint's first.
func (s *sequence) randomEndpoints() []resolver.Endpoint {
	if s.r.IntN(20) == 0 {
		return nil
	}
	perm := s.r.Perm(len(addrs))[:1+s.r.IntN(len(addrs))]
	eps := make([]resolver.Endpoint, 0, len(perm))
	for _, i := range perm {
		inst := kitresolver.Instance{Service: "svc", Addr: addrs[i], Weight: s.weight(), Zone: zones[s.r.IntN(len(zones))]}
		ep := resolver.Endpoint{Addresses: []resolver.Address{{Addr: inst.Addr}}}
		if s.r.IntN(8) == 0 {
			ep.Addresses = append(ep.Addresses, resolver.Address{Addr: addrs[s.r.IntN(len(addrs))]})
		}
		if ep.Addresses[len(ep.Addresses)-1].Addr == inst.Addr && len(ep.Addresses) > 1 {
			ep.Addresses = ep.Addresses[:1]
		}
		eps = append(eps, kitresolver.SetInstance(ep, inst))
	}
	if s.r.IntN(6) == 0 {
		eps = append(eps, s.sharedFirst(eps[s.r.IntN(len(eps))]))
	}
	return eps
}

// sharedFirst returns an endpoint whose first address is of's, with another
// second address: two endpoints, one first address.
func (s *sequence) sharedFirst(of resolver.Endpoint) resolver.Endpoint {
	first := of.Addresses[0].Addr
	second := first
	for second == first || (len(of.Addresses) > 1 && second == of.Addresses[1].Addr) {
		second = addrs[s.r.IntN(len(addrs))]
	}
	inst := kitresolver.Instance{Service: "svc", Addr: first, Weight: s.weight(), Zone: zones[s.r.IntN(len(zones))]}
	ep := resolver.Endpoint{Addresses: []resolver.Address{{Addr: first}, {Addr: second}}}
	return kitresolver.SetInstance(ep, inst)
}

func (s *sequence) weight() uint32 {
	switch k := s.r.IntN(40); {
	case k == 0:
		return 0
	case k == 1:
		return 1 << 31
	case k == 2:
		return kitresolver.MaxWeight
	default:
		return 1 + uint32(s.r.IntN(5))
	}
}

// update sends eps with configuration cfg.
func (s *sequence) update(eps []resolver.Endpoint, cfg int) string {
	err := s.b.UpdateClientConnState(balancer.ClientConnState{
		ResolverState:  resolver.State{Endpoints: eps},
		BalancerConfig: s.configs[cfg],
	})
	if len(eps) > 0 && err != nil {
		s.fail(fmt.Errorf("UpdateClientConnState(%d endpoints) = %v, want nil", len(eps), err))
	}
	if len(eps) == 0 && !errors.Is(err, balancer.ErrBadResolverState) {
		s.fail(fmt.Errorf("UpdateClientConnState(no endpoints) = %v, want ErrBadResolverState", err))
	}
	s.cfg, s.endpoints, s.updated = cfg, eps, true
	s.resolverErr = nil
	return fmt.Sprintf("update %s config %d", describe(eps), cfg)
}

func describe(eps []resolver.Endpoint) string {
	parts := make([]string, len(eps))
	for i, ep := range eps {
		inst, _ := kitresolver.InstanceFrom(ep)
		var as []string
		for _, a := range ep.Addresses {
			as = append(as, a.Addr)
		}
		parts[i] = fmt.Sprintf("%s/w%d/z%q", strings.Join(as, "+"), inst.Weight, inst.Zone)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// moveSubConn moves a random live SubConn one step along gRPC's state
// machine: IDLE → CONNECTING (once Connect was called) → READY or
// TRANSIENT_FAILURE; READY → IDLE; TRANSIENT_FAILURE → IDLE.
func (s *sequence) moveSubConn() string {
	live := slices.DeleteFunc(s.cc.live(), func(sc *shardtest.SubConn) bool {
		return s.cc.state(sc) == connectivity.Idle && !s.cc.connectRequested(sc)
	})
	if len(live) == 0 {
		return "no SubConn to move"
	}
	sc := live[s.r.IntN(len(live))]
	from := s.cc.state(sc)
	var to connectivity.State
	switch from {
	case connectivity.Idle:
		if !s.cc.takeConnect(sc) {
			return fmt.Sprintf("%s IDLE, not asked to connect", sc)
		}
		to = connectivity.Connecting
	case connectivity.Connecting:
		to = connectivity.Ready
		if s.r.IntN(3) == 0 {
			to = connectivity.TransientFailure
		}
	default:
		to = connectivity.Idle
	}
	s.cc.setState(sc, to)
	sc.UpdateState(to)
	return fmt.Sprintf("%s %v → %v", sc, from, to)
}

// picks picks a few times, keeping some picks outstanding, and finishes
// some outstanding ones with successes and failures.
func (s *sequence) picks() string {
	n := 1 + s.r.IntN(8)
	var got []string
	if p := s.cc.LastState().Picker; p != nil {
		for range n {
			res, err := s.pick(p)
			if err != nil {
				got = append(got, "error")
				continue
			}
			got = append(got, shardtest.Addr(res.SubConn))
			if res.Done != nil {
				s.outstanding = append(s.outstanding, res.Done)
			}
		}
	}
	finished := 0
	for len(s.outstanding) > 0 && s.r.IntN(3) != 0 {
		i := s.r.IntN(len(s.outstanding))
		done := s.outstanding[i]
		s.outstanding = slices.Delete(s.outstanding, i, i+1)
		done(s.doneInfo())
		finished++
	}
	return fmt.Sprintf("picks %v, finished %d, %d outstanding", got, finished, len(s.outstanding))
}

func (s *sequence) doneInfo() balancer.DoneInfo {
	switch s.r.IntN(4) {
	case 0:
		return balancer.DoneInfo{Err: status.Error(codes.Unavailable, "policytest: down"), BytesSent: true}
	case 1:
		return balancer.DoneInfo{Err: status.Error(codes.Internal, "policytest: broken"), BytesSent: true, BytesReceived: true}
	default:
		return balancer.DoneInfo{BytesSent: true, BytesReceived: true}
	}
}

func (s *sequence) finishAll() {
	for _, done := range s.outstanding {
		done(balancer.DoneInfo{BytesSent: true, BytesReceived: true})
	}
	s.outstanding = nil
}

// pick runs one Pick under PickTimeout, with a hash key for the policies
// that want one.
func (s *sequence) pick(p balancer.Picker) (balancer.PickResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), PickTimeout)
	defer cancel()
	ctx = consistenthash.WithKey(ctx, fmt.Sprint(s.r.IntN(1000)))
	type result struct {
		res balancer.PickResult
		err error
	}
	ch := make(chan result, 1)
	go func() {
		res, err := p.Pick(balancer.PickInfo{FullMethodName: "/svc/Method", Ctx: ctx})
		ch <- result{res, err}
	}()
	select {
	case r := <-ch:
		return r.res, r.err
	case <-time.After(PickTimeout):
		s.fail(fmt.Errorf("a Pick did not return within %v", PickTimeout))
		return balancer.PickResult{}, nil
	}
}

// check polls the invariants until they hold or SettleTimeout passes.
func (s *sequence) check() error {
	deadline := time.Now().Add(SettleTimeout)
	for {
		err := s.checkOnce()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(time.Millisecond)
	}
}

// checkOnce checks the invariants against the newest published state.
func (s *sequence) checkOnce() error {
	st := s.cc.LastState()
	if st.Picker == nil {
		switch {
		case s.updated:
			return errors.New("nothing published after an update")
		case s.resolverErr != nil:
			return fmt.Errorf("resolver error %q before any update: nothing published, so RPCs wait for their deadline instead of failing with it", s.resolverErr)
		}
		return nil
	}
	ready := s.readyEndpoints()
	var picked []string
	var noSubConn, pickErr error
	for range 4*len(s.endpoints) + 4 {
		res, err := s.pick(st.Picker)
		if err != nil {
			if errors.Is(err, balancer.ErrNoSubConnAvailable) {
				noSubConn = err
			} else {
				pickErr = err
			}
			continue
		}
		if res.SubConn == nil {
			return errors.New("a Pick returned no SubConn and no error")
		}
		if err := s.pickable(res.SubConn); err != nil {
			return fmt.Errorf("state %v: picked %v", st.ConnectivityState, err)
		}
		picked = append(picked, shardtest.Addr(res.SubConn))
		s.pickCount++
		if res.Done != nil {
			s.outstanding = append(s.outstanding, res.Done)
		}
	}
	switch {
	case len(s.endpoints) == 0 && s.updated:
		if st.ConnectivityState != connectivity.TransientFailure || noSubConn != nil || pickErr == nil {
			return fmt.Errorf("after an update with no endpoints: state %v, Pick errors %v / %v; want TRANSIENT_FAILURE failing fast", st.ConnectivityState, noSubConn, pickErr)
		}
	case !s.updated && s.resolverErr != nil:
		if pickErr == nil || !strings.Contains(pickErr.Error(), s.resolverErr.Error()) {
			return fmt.Errorf("resolver error %q before any endpoint: state %v, Pick errors %v / %v; want the resolver's error", s.resolverErr, st.ConnectivityState, noSubConn, pickErr)
		}
	case ready > s.mayEject():
		s.readySteps++
		if st.ConnectivityState != connectivity.Ready || len(picked) == 0 {
			return fmt.Errorf("%d of %d endpoints READY: state %v, picked %v, Pick errors %v / %v; want READY and picks", ready, len(s.endpoints), st.ConnectivityState, picked, noSubConn, pickErr)
		}
	case ready == 0:
		if st.ConnectivityState == connectivity.Ready {
			return fmt.Errorf("no endpoint READY: state READY, want not READY")
		}
	}
	if s.spec.Check != nil {
		if err := s.spec.Check(st.Picker, len(s.outstanding)); err != nil {
			return err
		}
	}
	return nil
}

// mayEject is how many endpoints the policy may take out of rotation.
func (s *sequence) mayEject() int {
	return len(s.endpoints) * s.spec.MaxEjectedPercent / 100
}

// readyEndpoints counts the endpoints of the newest update that are READY:
// the live READY SubConns dialing one of their addresses (each endpoint's
// pickfirst keeps at most one READY), at most one per endpoint.
func (s *sequence) readyEndpoints() int {
	in := map[string]bool{}
	for _, ep := range s.endpoints {
		for _, a := range ep.Addresses {
			in[a.Addr] = true
		}
	}
	return min(s.cc.readyIn(in), len(s.endpoints))
}

// pickable reports why sc may not be picked: not READY, shut down, or not
// an address of the newest update.
func (s *sequence) pickable(sc balancer.SubConn) error {
	st, ok := s.cc.lookup(sc)
	switch {
	case !ok:
		return fmt.Errorf("%v, a SubConn the ClientConn never made", sc)
	case st.shutdown:
		return fmt.Errorf("%v, which was shut down", sc)
	case st.state != connectivity.Ready:
		return fmt.Errorf("%v, which is %v", sc, st.state)
	}
	addr := shardtest.Addr(sc)
	for _, ep := range s.endpoints {
		for _, a := range ep.Addresses {
			if a.Addr == addr {
				return nil
			}
		}
	}
	return fmt.Errorf("%v, whose address is in no endpoint of the newest update", sc)
}

// clientConn is shardtest's ClientConn that remembers every SubConn it made
// and the state the test last gave it.
type clientConn struct {
	*shardtest.ClientConn

	mu     sync.Mutex
	order  []*shardtest.SubConn
	states map[balancer.SubConn]*scState
}

type scState struct {
	sc         *shardtest.SubConn
	addrs      []resolver.Address
	state      connectivity.State
	connecting bool // Connect was called since the SubConn was last IDLE
	shutdown   bool
}

func (c *clientConn) NewSubConn(addrs []resolver.Address, opts balancer.NewSubConnOptions) (balancer.SubConn, error) {
	sc, err := c.ClientConn.NewSubConn(addrs, opts)
	if err != nil {
		return nil, err
	}
	w := &subConn{SubConn: sc.(*shardtest.SubConn), cc: c}
	c.mu.Lock()
	c.order = append(c.order, w.SubConn)
	c.states[w] = &scState{sc: w.SubConn, addrs: addrs, state: connectivity.Idle}
	c.states[w.SubConn] = c.states[w]
	c.mu.Unlock()
	return w, nil
}

// subConn records its shutdown before shardtest reports it.
type subConn struct {
	*shardtest.SubConn
	cc *clientConn
}

func (s *subConn) Connect() {
	s.cc.mu.Lock()
	s.cc.states[s].connecting = true
	s.cc.mu.Unlock()
	s.SubConn.Connect()
}

func (s *subConn) Shutdown() {
	s.cc.mu.Lock()
	s.cc.states[s].shutdown = true
	s.cc.mu.Unlock()
	s.SubConn.Shutdown()
}

// live returns the SubConns not shut down, oldest first.
func (c *clientConn) live() []*shardtest.SubConn {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*shardtest.SubConn
	for _, sc := range c.order {
		if !c.states[sc].shutdown {
			out = append(out, sc)
		}
	}
	return out
}

func (c *clientConn) state(sc *shardtest.SubConn) connectivity.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.states[sc].state
}

func (c *clientConn) setState(sc *shardtest.SubConn, s connectivity.State) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.states[sc].state = s
}

// connectRequested reports whether the policy asked sc to connect since it
// was last IDLE.
func (c *clientConn) connectRequested(sc *shardtest.SubConn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.states[sc].connecting
}

// takeConnect reports whether the policy asked sc to connect since it was
// last IDLE, and forgets it.
func (c *clientConn) takeConnect(sc *shardtest.SubConn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.states[sc]
	ok := st.connecting
	st.connecting = false
	return ok
}

func (c *clientConn) lookup(sc balancer.SubConn) (scState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.states[sc]
	if !ok {
		return scState{}, false
	}
	return *st, true
}

// readyIn counts the live READY SubConns that dial an address in addrs.
func (c *clientConn) readyIn(addrs map[string]bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, sc := range c.order {
		st := c.states[sc]
		if !st.shutdown && st.state == connectivity.Ready && len(st.addrs) > 0 && addrs[st.addrs[0].Addr] {
			n++
		}
	}
	return n
}
