package consistenthash

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/endpointsharding"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/internal/testutil"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// modelEndpoint is an endpoint as the model test wants it.
type modelEndpoint struct {
	weight uint32
	up     bool
}

// chModel drives the real balancer (endpointsharding and pickfirst children
// on the fake ClientConn) through random changes of its endpoints and
// checks the policy's promises after every step.
type chModel struct {
	t       *testing.T
	rng     *rand.Rand
	cc      *testutil.BalancerClientConn
	b       balancer.Balancer
	cfg     *LBConfig
	eps     map[string]*modelEndpoint // by address
	target  int                       // the size the fleet drifts towards
	keys    []context.Context
	owners  []string            // each key's endpoint after the last step
	homes   []string            // the owner of each key's slot after the last step
	history map[string][]string // owners by model state, to see that picks depend on nothing else
}

const modelAddrs = 80 // the pool of addresses endpoints are added from

func modelAddr(i int) string { return fmt.Sprintf("10.0.%d.%d:50051", i/256, i%256) }

func newChModel(t *testing.T, seed uint64, cfgJSON string) *chModel {
	cfg, err := parseConfig([]byte(cfgJSON))
	if err != nil {
		t.Fatal(err)
	}
	cc := testutil.NewBalancerClientConn()
	m := &chModel{t: t, rng: rand.New(rand.NewPCG(seed, 14)), cc: cc, cfg: cfg,
		b: balancer.Get(Name).Build(cc, balancer.BuildOptions{}), eps: map[string]*modelEndpoint{},
		keys: keyContexts(1000), history: map[string][]string{}}
	t.Cleanup(m.b.Close)
	return m
}

// step makes one random change and returns the address it concerns.
func (m *chModel) step() (op, addr string) {
	addrs := m.addrs()
	grow, shrink := 2, 4 // out of 10; the fleet drifts towards target
	if len(addrs) < m.target {
		grow, shrink = 5, 6
	}
	switch r := m.rng.IntN(10); {
	case len(addrs) == 0 || r < grow && len(addrs) < 64:
		addr = m.absentAddr()
		m.eps[addr] = &modelEndpoint{weight: m.weight(), up: true}
		m.resolve()
		m.setState(addr, connectivity.Ready)
		return "add", addr
	case r < shrink && len(addrs) > 1:
		addr = addrs[m.rng.IntN(len(addrs))]
		delete(m.eps, addr)
		m.resolve()
		return "remove", addr
	case r < 7:
		addr = addrs[m.rng.IntN(len(addrs))]
		m.eps[addr].weight = m.weight()
		m.resolve()
		return "reweight", addr
	default:
		addr = addrs[m.rng.IntN(len(addrs))]
		e := m.eps[addr]
		e.up = !e.up
		if e.up {
			m.setState(addr, connectivity.Connecting)
			m.setState(addr, connectivity.Ready)
			return "up", addr
		}
		m.setState(addr, connectivity.Idle)
		return "down", addr
	}
}

// weight returns a random weight, mostly small, sometimes up to MaxWeight.
func (m *chModel) weight() uint32 {
	if m.rng.IntN(8) == 0 {
		return 1 + m.rng.Uint32N(kitresolver.MaxWeight)
	}
	return 1 + m.rng.Uint32N(5)
}

func (m *chModel) addrs() []string {
	var out []string
	for a := range m.eps {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

func (m *chModel) absentAddr() string {
	for {
		if a := modelAddr(m.rng.IntN(modelAddrs)); m.eps[a] == nil {
			return a
		}
	}
}

// resolve hands the model's endpoints to the balancer.
func (m *chModel) resolve() {
	var insts []kitresolver.Instance
	for _, a := range m.addrs() {
		insts = append(insts, kitresolver.Instance{Service: "greeter", Addr: a, Weight: m.eps[a].weight})
	}
	s := balancer.ClientConnState{ResolverState: resolver.State{Endpoints: kitresolver.Endpoints(insts)}, BalancerConfig: m.cfg}
	if err := m.b.UpdateClientConnState(s); err != nil {
		m.t.Fatalf("UpdateClientConnState: %v", err)
	}
}

func (m *chModel) setState(addr string, s connectivity.State) {
	sc := m.cc.SubConnFor(addr)
	if sc == nil {
		m.t.Fatalf("no SubConn for %s", addr)
	}
	sc.UpdateState(s)
}

// picker waits for the balancer's picker to reflect the model: the same
// endpoints and weights, the same ones READY.
func (m *chModel) picker() *picker {
	m.t.Helper()
	deadline := time.Now().Add(testutil.DefaultTimeout)
	for {
		p, ok := m.cc.LastState().Picker.(*picker)
		if ok && m.matches(p) {
			return p
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("no picker for the model's state %s before the deadline", m.state())
		}
		time.Sleep(time.Millisecond)
	}
}

func (m *chModel) matches(p *picker) bool {
	if len(p.table.eps) != len(m.eps) {
		return false
	}
	for i, e := range p.table.eps {
		me := m.eps[e.addr]
		if me == nil || me.weight != e.weight || me.up != p.eps[i].ready {
			return false
		}
	}
	return true
}

// state is the model's state as a string: addresses, weights, READY or not.
func (m *chModel) state() string {
	var b strings.Builder
	for _, a := range m.addrs() {
		fmt.Fprintf(&b, "%s/%d/%v ", a, m.eps[a].weight, m.eps[a].up)
	}
	return b.String()
}

// pickAll picks every key and returns the address each went to, "" where
// the pick failed (no endpoint READY).
func (m *chModel) pickAll(p *picker) []string {
	owners := make([]string, len(m.keys))
	for k, ctx := range m.keys {
		res, err := p.Pick(balancer.PickInfo{Ctx: ctx})
		if err != nil {
			if p.ready > 0 {
				m.t.Fatalf("key %d: Pick with %d endpoints READY: %v", k, p.ready, err)
			}
			continue
		}
		if res.Done != nil {
			res.Done(balancer.DoneInfo{})
		}
		owners[k] = res.SubConn.(*testutil.SubConn).Addr()
		if e := m.eps[owners[k]]; e == nil || !e.up {
			m.t.Fatalf("key %d went to %s, which is not READY in %s", k, owners[k], m.state())
		}
	}
	return owners
}

// check verifies the promises after op on addr: only keys of addr moved, a
// key being addr's if addr owns its slot of the table or takes its picks,
// before or after; the picks are those seen before in the same state; every
// endpoint's share of the table is within the published bound.
func (m *chModel) check(op, addr string) {
	m.t.Helper()
	p := m.picker()
	owners, homes := m.pickAll(p), m.slotOwners(p)
	for k := range owners {
		if m.owners == nil || m.owners[k] == owners[k] {
			continue
		}
		if m.owners[k] != addr && owners[k] != addr && m.homes[k] != addr && homes[k] != addr {
			m.t.Fatalf("%s %s (now %d endpoints): key %d moved from %s to %s, its slot's owner went from %s to %s",
				op, addr, len(m.eps), k, m.owners[k], owners[k], m.homes[k], homes[k])
		}
	}
	st := m.state()
	if prev, ok := m.history[st]; ok && !slices.Equal(prev, owners) {
		m.t.Fatalf("%s %s: back in state %s, but the keys went elsewhere than last time", op, addr, st)
	}
	m.history[st], m.owners, m.homes = owners, owners, homes
	checkShares(m.t, p.table)
	if m.cfg.LoadFactor > 0 && p.ready > 0 {
		m.checkBounded(p)
	}
}

// checkBounded holds a pick of every key in flight and checks that no
// endpoint holds more than loadFactor times its weighted share of them, then
// that Done releases them all.
func (m *chModel) checkBounded(p *picker) {
	m.t.Helper()
	held := make([]int, len(p.eps))
	var dones []func(balancer.DoneInfo)
	for k, ctx := range m.keys {
		res, err := p.Pick(balancer.PickInfo{Ctx: ctx})
		if err != nil {
			m.t.Fatalf("key %d: bounded Pick with %d endpoints READY: %v", k, p.ready, err)
		}
		i, _ := p.indexOf(endpointsharding.ChildState{Endpoint: resolver.Endpoint{Addresses: []resolver.Address{{Addr: res.SubConn.(*testutil.SubConn).Addr()}}}})
		held[i]++
		dones = append(dones, res.Done)
	}
	for i, n := range held {
		if limit := math.Ceil(m.cfg.LoadFactor * float64(len(m.keys)) * p.eps[i].weight / p.readyW); float64(n) > limit {
			m.t.Fatalf("%s holds %d of %d requests in flight, over its bound %.0f", p.table.eps[i].addr, n, len(m.keys), limit)
		}
	}
	for _, d := range dones {
		d(balancer.DoneInfo{})
	}
	if n := p.inflight.Load(); n != 0 {
		m.t.Fatalf("%d requests in flight after every Done", n)
	}
}

// slotOwners returns the owner of each key's slot, READY or not.
func (m *chModel) slotOwners(p *picker) []string {
	homes := make([]string, len(m.keys))
	for k, ctx := range m.keys {
		h, _ := requestHash(ctx, "")
		homes[k] = p.table.eps[p.table.owner(p.table.slot(h))].addr
	}
	return homes
}

// TestModel makes random sequences of adds, removals, weight changes and
// flaps over 1 to 64 endpoints, through the real balancer, and checks after
// every step that only keys of the endpoint that changed moved (a flap moves
// its keys away while it is down and back when it is up), that keys go only
// to READY endpoints, that a state seen before routes every key as it did
// then, that every share of the table stays within its bound, and, with
// bounded loads, that requests held in flight stay within loadFactor.
func TestModel(t *testing.T) {
	for _, tc := range []struct {
		name, cfg string
	}{
		{"unbounded", `{"ringSize":16384}`},
		{"bounded", `{"ringSize":16384,"loadFactor":1.25}`},
	} {
		for seed := range uint64(3) {
			t.Run(fmt.Sprintf("%s/seed%d", tc.name, seed), func(t *testing.T) {
				m := newChModel(t, seed, tc.cfg)
				ops, most := map[string]int{}, 0
				for i := range 300 {
					if i%60 == 0 {
						m.target = 1 + m.rng.IntN(64)
					}
					op, addr := m.step()
					m.check(op, addr)
					ops[op]++
					most = max(most, len(m.eps))
				}
				t.Logf("ops %v, up to %d endpoints", ops, most)
			})
		}
	}
}
