package lbsim

import (
	"context"
	"testing"
	"time"

	"github.com/grpckit/grpckit/internal/testutil"
)

// TestLoopbackShort runs a short slow-node scenario over loopback for every
// policy and checks the accounting: every request answered without error,
// every backend served some, the percentiles ordered, the slow phase visible
// in the tail for round robin.
func TestLoopbackShort(t *testing.T) {
	s := Scenario{Backends: 3, Slow: 1, SlowFactor: 10, Duration: 900 * time.Millisecond, Interval: 3 * time.Millisecond, Seed: 1}
	for _, p := range Policies {
		t.Run(p.Label, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
			defer cancel()
			r, err := Loopback(ctx, s, p)
			if err != nil {
				t.Fatal(err)
			}
			if r.Requests != s.Requests() || r.Errors != 0 {
				t.Fatalf("%d requests with %d errors, want %d without errors", r.Requests, r.Errors, s.Requests())
			}
			total := 0
			for b, n := range r.Served {
				if n == 0 {
					t.Errorf("backend %d served nothing: %v", b, r.Served)
				}
				total += n
			}
			if total != r.Requests {
				t.Errorf("served %d in all, want %d", total, r.Requests)
			}
			if !(r.Quantiles[0] <= r.P50 && r.P50 <= r.P99 && r.P99 <= r.P999 && r.P999 <= r.Quantiles[quantileSteps]) {
				t.Errorf("percentiles out of order: min %.2f p50 %.2f p99 %.2f p99.9 %.2f max %.2f", r.Quantiles[0], r.P50, r.P99, r.P999, r.Quantiles[quantileSteps])
			}
			if r.P50 < 5 {
				t.Errorf("p50 %.2fms below the backends' 5ms floor", r.P50)
			}
			if p.Label == "round_robin" && r.P99 < 50 {
				t.Errorf("round_robin p99 %.2fms, want ≥ 50ms: the slow backend gets a third of the requests for a third of the run", r.P99)
			}
		})
	}
}
