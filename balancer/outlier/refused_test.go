package outlier

import (
	"fmt"
	"testing"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/resolver"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestRefusedEjectionHappensOnceAllowed: an endpoint whose ejection was
// refused (it was alone) is ejected at its next failure once other
// endpoints join, not at the next interval sweep.
func TestRefusedEjectionHappensOnceAllowed(t *testing.T) {
	const cfgJSON = `{"consecutiveFailures":5,"failureRateThreshold":0,"interval":"10s","maxEjectionPercent":50}`
	h := newHarness(t, cfgJSON, 1)
	h.fail(0, 5)
	h.wantState(0, false, 0, 0, false) // alone: refused

	insts := make([]kitresolver.Instance, 3)
	h.addrs = h.addrs[:0]
	for i := range insts {
		insts[i] = kitresolver.Instance{Addr: fmt.Sprintf("10.0.0.%d:443", i+1)}
		h.addrs = append(h.addrs, insts[i].Addr)
	}
	cfg, err := parseConfig([]byte(cfgJSON))
	if err != nil {
		t.Fatal(err)
	}
	s := balancer.ClientConnState{ResolverState: resolver.State{Endpoints: kitresolver.Endpoints(insts)}, BalancerConfig: cfg}
	if err := h.b.UpdateClientConnState(s); err != nil {
		t.Fatal(err)
	}
	h.waitPicks(h.addrs...)
	h.fail(0, 1)
	if ejected, _, _, _ := h.state(0); !ejected {
		t.Fatal("endpoint still failing past consecutiveFailures is not ejected once ejection is allowed")
	}
}
