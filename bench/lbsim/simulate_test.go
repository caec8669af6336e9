package lbsim

import (
	"flag"
	"testing"
	"testing/synctest"

	"github.com/grpckit/grpckit/bench/internal/jsonfile"
)

var outFlag = flag.String("lbsim.out", "", "write the simulation's results as JSON to this file")

// TestSimulation runs the default scenario for every policy on virtual time
// and checks the target: p2c's p99 at most 0.2× round_robin's. Round robin
// must spread evenly whatever the latencies. With -lbsim.out it writes the
// results for the performance report.
func TestSimulation(t *testing.T) {
	results := make(map[string]Result)
	for _, p := range Policies {
		synctest.Test(t, func(t *testing.T) {
			r, err := Simulate(Default, p)
			if err != nil {
				t.Fatal(err)
			}
			if r.Errors != 0 || r.Requests != Default.Requests() {
				t.Errorf("%s: %d errors in %d requests, want 0 in %d", p.Label, r.Errors, r.Requests, Default.Requests())
			}
			t.Logf("%s: p50 %.2fms p99 %.2fms p99.9 %.2fms, served %v", p.Label, r.P50, r.P99, r.P999, r.Served)
			results[p.Label] = r
		})
	}
	rr, pc := results["round_robin"], results["p2c"]
	if pc.P99 > 0.2*rr.P99 {
		t.Errorf("p2c p99 %.2fms > 0.2 × round_robin p99 %.2fms", pc.P99, rr.P99)
	}
	for b, n := range rr.Served {
		if d := n - Default.Requests()/Default.Backends; d < -1 || d > 1 {
			t.Errorf("round_robin served %d on backend %d, want %d±1", n, b, Default.Requests()/Default.Backends)
		}
	}
	if *outFlag != "" {
		if err := jsonfile.Write(*outFlag, results); err != nil {
			t.Fatal(err)
		}
	}
}
