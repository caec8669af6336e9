package zoneaware

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/connectivity"
	estats "google.golang.org/grpc/experimental/stats"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/balancer/internal/lbmetrics"
	"github.com/grpckit/grpckit/internal/testutil"
)

// recordingCC is a fake ClientConn whose MetricsRecorder keeps reporters.
type recordingCC struct {
	*testutil.BalancerClientConn
	rec *lbmetrics.TestRecorder
}

func (c recordingCC) MetricsRecorder() estats.MetricsRecorder { return c.rec }

// TestMetricsFollowTheRoutingDecision walks the policy from local routing
// to spill-over to panic and checks the reported zone shares, spill share,
// mode and endpoint counts at each step against the shares picks follow.
func TestMetricsFollowTheRoutingDecision(t *testing.T) {
	bb := balancer.Get(Name)
	cfg, err := bb.(balancer.ConfigParser).ParseConfig(json.RawMessage(`{"localZone":"a","panicThreshold":0.5,"childPolicy":[{"round_robin":{}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("test:///greeter")
	rec := &lbmetrics.TestRecorder{}
	h := &harness{t: t, cc: testutil.NewBalancerClientConn(), cfg: cfg}
	h.b = bb.Build(recordingCC{BalancerClientConn: h.cc, rec: rec}, balancer.BuildOptions{Target: resolver.Target{URL: *u}}).(*zoneBalancer)
	t.Cleanup(h.b.Close)
	const tg = "test:///greeter"

	h.update(inst("a", 1, 1), inst("a", 2, 1), inst("b", 1, 1), inst("b", 2, 1))
	h.waitPicks(100, "a")
	check := func(step string, mode string, shares map[string]int64, spill int64, ready map[string]int64) {
		t.Helper()
		got := rec.Collect()
		wantShares := map[string]int64{}
		for z, v := range shares {
			wantShares[tg+"|"+z] = v
		}
		if d := cmp.Diff(wantShares, got["grpckit.lb.zoneaware.zone_share"]); d != "" {
			t.Errorf("%s: zone shares (-want +got):\n%s", step, d)
		}
		if s := got["grpckit.lb.zoneaware.spill_share"][tg]; s != spill {
			t.Errorf("%s: spill share %d ppm, want %d", step, s, spill)
		}
		wantModes := map[string]int64{}
		for _, m := range modes {
			wantModes[tg+"|"+m] = 0
		}
		wantModes[tg+"|"+mode] = 1
		if d := cmp.Diff(wantModes, got["grpckit.lb.zoneaware.mode"]); d != "" {
			t.Errorf("%s: modes (-want +got):\n%s", step, d)
		}
		wantEps := map[string]int64{}
		for z, n := range ready {
			wantEps[tg+"|"+z+"|ready"] = n
			wantEps[tg+"|"+z+"|not_ready"] = 2 - n
		}
		if d := cmp.Diff(wantEps, got["grpckit.lb.zoneaware.endpoints"]); d != "" {
			t.Errorf("%s: endpoints (-want +got):\n%s", step, d)
		}
	}
	check("all READY", modeLocal, map[string]int64{"a": 1e6, "b": 0}, 0, map[string]int64{"a": 2, "b": 2})

	// One of a's two endpoints fails: a holds 1/3 of the READY weight for
	// 1/2 of the traffic, so it keeps 2/3 and 1/3 spills to b.
	h.cc.SubConnFor(inst("a", 1, 1).Addr).UpdateState(connectivity.TransientFailure)
	check("a1 down", modeSpill, map[string]int64{"a": 666667, "b": 333333}, 333333, map[string]int64{"a": 1, "b": 2})
	got := h.picks(30000)
	if b := float64(got["b"]) / 30000; b < 0.3 || b > 0.366 {
		t.Errorf("picks %v: b's share %.3f, reported 0.333", got, b)
	}

	// Three of four down: a quarter READY is under the panic threshold.
	h.cc.SubConnFor(inst("a", 2, 1).Addr).UpdateState(connectivity.TransientFailure)
	h.cc.SubConnFor(inst("b", 1, 1).Addr).UpdateState(connectivity.TransientFailure)
	check("panic", modePanic, map[string]int64{"a": 0, "b": 1e6}, 1e6, map[string]int64{"a": 0, "b": 1})

	h.b.Close()
	if n := rec.Registered(); n != 0 {
		t.Errorf("%d reporters registered after Close, want 0", n)
	}
}
