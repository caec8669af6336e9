package outlier

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/resolver"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestFailureRateBoundary: a failure share exactly at failureRateThreshold
// is not over it, whatever the threshold and counts (the share and threshold
// compared as fractions, not through a product that rounds down), and one
// failure more is.
func TestFailureRateBoundary(t *testing.T) {
	for p := 1; p < 100; p++ {
		cfg := &lbConfig{failureRate: float64(p) / 100, minRequests: 1} // as JSON's 0.29 parses
		for total := int64(1); total <= 200; total++ {
			if int64(p)*total%100 != 0 {
				continue
			}
			f := int64(p) * total / 100
			if overRate(cfg, total-f, f) {
				t.Errorf("failureRateThreshold %v: %d failures of %d (exactly the threshold) ejects", cfg.failureRate, f, total)
			}
			if f < total && !overRate(cfg, total-f-1, f+1) {
				t.Errorf("failureRateThreshold %v: %d failures of %d (over the threshold) does not eject", cfg.failureRate, f+1, total)
			}
		}
	}
}

// TestEjectionTimeFollowsConfig: a configuration that changes
// baseEjectionTime or maxEjectionTime applies to the ejections in force, as
// gRPC's outlier detection does: an operator who shortens maxEjectionTime
// gets the endpoints back by the new bound, not the old one.
func TestEjectionTimeFollowsConfig(t *testing.T) {
	const cfgFmt = `{"consecutiveFailures":2,"failureRateThreshold":0,"interval":"10s",
		"baseEjectionTime":%q,"maxEjectionTime":%q,"maxEjectionPercent":50}`
	h := newHarness(t, fmt.Sprintf(cfgFmt, "300s", "300s"), 2)
	h.fail(0, 2)
	h.clock.Advance(10 * time.Second)
	h.wantState(0, true, 290*time.Second, 1, false)

	h.apply(fmt.Sprintf(cfgFmt, "30s", "60s"))
	h.wantState(0, true, 20*time.Second, 1, false) // ejected 10s ago for 30s
	h.clock.Advance(20 * time.Second)
	h.sync()
	h.wantState(0, false, 0, 1, true)
	h.waitPicks(h.addrs...)

	// Longer, too.
	h.fail(0, 1) // on probation: ejected for the second time, 60s
	h.wantState(0, true, 60*time.Second, 2, false)
	h.apply(fmt.Sprintf(cfgFmt, "50s", "300s"))
	h.wantState(0, true, 100*time.Second, 2, false)
}

// apply sends the harness's endpoints with the configuration cfgJSON.
func (h *harness) apply(cfgJSON string) {
	h.t.Helper()
	cfg, err := parseConfig(json.RawMessage(cfgJSON))
	if err != nil {
		h.t.Fatal(err)
	}
	insts := make([]kitresolver.Instance, len(h.addrs))
	for i, a := range h.addrs {
		insts[i] = kitresolver.Instance{Addr: a}
	}
	s := balancer.ClientConnState{ResolverState: resolver.State{Endpoints: kitresolver.Endpoints(insts)}, BalancerConfig: cfg}
	if err := h.b.UpdateClientConnState(s); err != nil {
		h.t.Fatal(err)
	}
	h.sync()
}

// TestCapHoldsWhenEndpointsGo: maxEjectionPercent holds for the endpoints of
// every update, not only when an ejection is made: when endpoints leave (or
// a configuration lowers the cap) and more are ejected than the cap allows,
// those whose ejection ends first come back on probation. Without it, a
// scale-down that removes the healthy endpoints leaves every remaining one
// ejected and every call failing.
func TestCapHoldsWhenEndpointsGo(t *testing.T) {
	const cfgFmt = `{"consecutiveFailures":2,"failureRateThreshold":0,"interval":"10s",
		"baseEjectionTime":"30s","maxEjectionPercent":%d}`
	h := newHarness(t, fmt.Sprintf(cfgFmt, 50), 4)
	all := h.addrs
	h.fail(0, 2)
	h.clock.Advance(time.Second)
	h.fail(1, 2)
	h.wantState(0, true, 29*time.Second, 1, false)
	h.wantState(1, true, 30*time.Second, 1, false)

	// 3 endpoints, cap 1: endpoint 0, whose ejection ends first, comes back.
	h.addrs = all[:3]
	h.apply(fmt.Sprintf(cfgFmt, 50))
	h.wantState(0, false, 0, 1, true)
	h.wantState(1, true, 30*time.Second, 1, false)
	h.waitPicks(all[0], all[2])

	// A lower cap: endpoint 1 comes back too.
	h.apply(fmt.Sprintf(cfgFmt, 10))
	h.wantState(1, false, 0, 1, true)
	h.waitPicks(all[:3]...)

	// Only endpoint 1 left, ejected again with the cap at 100, then the cap
	// back at 50: it is the only endpoint, and comes back.
	h.addrs = all[1:2]
	h.apply(fmt.Sprintf(cfgFmt, 100))
	h.fail(0, 1) // on probation: one failure ejects
	h.wantState(0, true, time.Minute, 2, false)
	h.apply(fmt.Sprintf(cfgFmt, 50))
	h.wantState(0, false, 0, 2, true)
	h.waitPicks(all[1])
}
