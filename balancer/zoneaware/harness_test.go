package zoneaware

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"

	"github.com/grpckit/grpckit/internal/testutil"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// harness is the policy over a fake ClientConn.
type harness struct {
	t     *testing.T
	cc    *testutil.BalancerClientConn
	b     *zoneBalancer
	cfg   serviceconfig.LoadBalancingConfig
	zones map[string]string // address → zone of the last update
}

func newHarness(t *testing.T, cfgJSON string) *harness {
	t.Helper()
	bb := balancer.Get(Name)
	cfg, err := bb.(balancer.ConfigParser).ParseConfig(json.RawMessage(cfgJSON))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, cc: testutil.NewBalancerClientConn(), cfg: cfg}
	h.b = bb.Build(h.cc, balancer.BuildOptions{}).(*zoneBalancer)
	t.Cleanup(h.b.Close)
	return h
}

// inst is an instance in zone with weight w; n numbers its address.
func inst(zone string, n int, w uint32) kitresolver.Instance {
	return kitresolver.Instance{ID: fmt.Sprintf("%s%d", zone, n), Addr: fmt.Sprintf("10.0.%d.%d:443", zone[0], n), Zone: zone, Weight: w}
}

// update sends insts as the resolver's state.
func (h *harness) update(insts ...kitresolver.Instance) {
	h.t.Helper()
	h.zones = map[string]string{}
	for _, in := range insts {
		h.zones[in.Addr] = in.Zone
	}
	s := balancer.ClientConnState{ResolverState: resolver.State{Endpoints: kitresolver.Endpoints(insts)}, BalancerConfig: h.cfg}
	if err := h.b.UpdateClientConnState(s); err != nil {
		h.t.Fatal(err)
	}
}

// picks counts n picks of the newest picker by zone; failed picks count
// under "error".
func (h *harness) picks(n int) map[string]int {
	out := map[string]int{}
	p := h.cc.LastState().Picker
	for range n {
		if p == nil {
			out["error"]++
			continue
		}
		res, err := p.Pick(balancer.PickInfo{Ctx: context.Background()})
		if err != nil {
			out["error"]++
			continue
		}
		out[h.zones[res.SubConn.(*testutil.SubConn).Addr()]]++
	}
	return out
}

// waitPicks moves SubConns to READY until n picks all go to zone.
func (h *harness) waitPicks(n int, zone string) {
	h.t.Helper()
	var got map[string]int
	for deadline := time.Now().Add(testutil.DefaultTimeout); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		h.cc.SetAllReady()
		if got = h.picks(n); got[zone] == n {
			return
		}
	}
	h.t.Fatalf("%d picks went %v, want all to zone %q", n, got, zone)
}

// loads returns the policy's view of the zones.
func (h *harness) loads() []zoneLoad {
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	return h.b.loadsLocked()
}
