package zoneaware

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/connectivity"

	"github.com/grpckit/grpckit/internal/testutil"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// model is what the test knows of the endpoints: the current resolver
// endpoints, and the state it last gave the newest SubConn of each address.
type model struct {
	eps   map[int]kitresolver.Instance // by address number
	state map[string]connectivity.State
	sc    map[string]*testutil.SubConn // newest SubConn seen per address
}

// TestRandomUpdates drives the policy through random sequences of resolver
// updates (endpoints coming and going, changing weight, moving zone),
// SubConn state changes and resolver errors, and checks after every step
// that the READY weight of each zone is what the endpoints' states say,
// that no count went negative, that the last picker gRPC got is the one the
// current state gives, and that picks reach READY endpoints only.
func TestRandomUpdates(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 14))
			h := newHarness(t, `{"localZone":"a","panicThreshold":0.5,"childPolicy":[{"round_robin":{}}]}`)
			m := &model{eps: map[int]kitresolver.Instance{}, state: map[string]connectivity.State{}, sc: map[string]*testutil.SubConn{}}
			m.randomUpdate(h, rng)
			for step := range 300 {
				var did string
				switch r := rng.IntN(10); {
				case r < 2:
					did = m.randomUpdate(h, rng)
				case r < 9:
					did = m.randomTransition(h, rng)
				default:
					h.b.ResolverError(errors.New("registry unreachable"))
					did = "resolver error"
				}
				m.check(t, h, fmt.Sprintf("step %d (%s)", step, did))
			}
		})
	}
}

// randomUpdate sends a random subset of 8 addresses, each in a random zone
// of three with a random weight; an address keeps its zone most of the
// time.
func (m *model) randomUpdate(h *harness, rng *rand.Rand) string {
	next := map[int]kitresolver.Instance{}
	var insts []kitresolver.Instance
	for n := range 8 {
		if rng.IntN(4) == 0 {
			continue
		}
		zone := string(rune('a' + rng.IntN(3)))
		if old, ok := m.eps[n]; ok && rng.IntN(4) != 0 {
			zone = old.Zone
		}
		in := kitresolver.Instance{ID: fmt.Sprint(n), Addr: fmt.Sprintf("10.0.0.%d:443", n), Zone: zone, Weight: uint32(1 + rng.IntN(3))}
		next[n] = in
		insts = append(insts, in)
	}
	if len(insts) == 0 {
		return "empty update skipped"
	}
	h.update(insts...)
	m.eps = next
	m.syncSubConns(h)
	return fmt.Sprintf("update %v", insts)
}

// syncSubConns notes the SubConns the children created: a new one starts
// IDLE.
func (m *model) syncSubConns(h *harness) {
	for _, in := range m.eps {
		if sc := h.cc.SubConnFor(in.Addr); sc != m.sc[in.Addr] {
			m.sc[in.Addr], m.state[in.Addr] = sc, connectivity.Idle
		}
	}
}

// randomTransition moves the newest SubConn of a random endpoint one step
// along the states gRPC reports.
func (m *model) randomTransition(h *harness, rng *rand.Rand) string {
	var addrs []string
	for n := range 8 {
		if in, ok := m.eps[n]; ok && m.sc[in.Addr] != nil {
			addrs = append(addrs, in.Addr)
		}
	}
	if len(addrs) == 0 {
		return "no SubConn"
	}
	addr := addrs[rng.IntN(len(addrs))]
	var next connectivity.State
	switch m.state[addr] {
	case connectivity.Idle:
		next = connectivity.Connecting
	case connectivity.Connecting:
		next = []connectivity.State{connectivity.Ready, connectivity.TransientFailure}[rng.IntN(2)]
	case connectivity.Ready, connectivity.TransientFailure:
		next = connectivity.Idle
	}
	m.sc[addr].UpdateState(next)
	m.state[addr] = next
	m.syncSubConns(h)
	return fmt.Sprintf("%s %v", addr, next)
}

func (m *model) check(t *testing.T, h *harness, when string) {
	t.Helper()
	want := map[string]zoneLoad{}
	for _, in := range m.eps {
		l := want[in.Zone]
		l.zone = in.Zone
		l.total += float64(in.Weight)
		if m.state[in.Addr] == connectivity.Ready {
			l.ready += float64(in.Weight)
		}
		want[in.Zone] = l
	}
	got := map[string]zoneLoad{}
	for _, l := range h.loads() {
		got[l.zone] = l
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(zoneLoad{})); diff != "" {
		t.Fatalf("after %s: zones (-want +got):\n%s", when, diff)
	}

	h.b.mu.Lock()
	for addr, st := range h.b.endpoints {
		if st.ready < 0 || st.ready > 1 {
			h.b.mu.Unlock()
			t.Fatalf("after %s: endpoint %s counts %d READY SubConns", when, addr, st.ready)
		}
	}
	// Pickers are published under mu: hold it so that a child's update on
	// another goroutine (an idle child woken by a pick) cannot come between.
	fresh := h.b.stateLocked().Picker.(*picker)
	last, ok := h.cc.LastState().Picker.(*picker)
	h.b.mu.Unlock()
	if !ok || !samePicker(last, fresh) {
		t.Fatalf("after %s: the last picker (%v %v) is not the one the current state gives (%v %v)", when, last.bounds, last.pickers, fresh.bounds, fresh.pickers)
	}

	for addr, n := range h.picksAddr(50) {
		if addr != "error" && m.state[addr] != connectivity.Ready {
			t.Fatalf("after %s: %d picks went to %s, which is %v", when, n, addr, m.state[addr])
		}
	}
}
