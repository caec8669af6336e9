package clientoverload

import (
	"context"
	"testing"
	"time"
)

// TestRunShort runs a short scenario and checks what holds whatever the
// machine's load: without protection every call aimed at the failing
// backend reaches it and recovery is immediate; the numbers are shares (the
// failing load at most the 3 attempts of the retry policy).
func TestRunShort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := Config{Rate: 60, Warmup: 500 * time.Millisecond, Failing: 2 * time.Second, MaxRecovery: 2 * time.Second, FailShare: 0.9, Deadline: 5 * time.Second}
	res, err := Run(ctx, cfg, Mechanisms)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(Mechanisms) {
		t.Fatalf("%d results for %d mechanisms", len(res), len(Mechanisms))
	}
	for _, r := range res {
		if r.FailingLoad < 0 || r.FailingLoad > 3 || r.LostHealthy < 0 || r.LostHealthy > 1 || r.LostSuccesses < 0 || r.LostSuccesses > 1 {
			t.Errorf("%s: shares out of [0, 1]: %+v", r.Mechanism, r)
		}
	}
	// The backend's count is read when the phase changes, while calls are
	// in flight: a few calls either way.
	if none := res[0]; none.FailingLoad < 0.9 || none.FailingLoad > 1.1 || none.Recovery != 0 {
		t.Errorf("no protection: failing load %v, recovery %v; want about 1 and 0", none.FailingLoad, none.Recovery)
	}
}
