package outlier

import (
	"testing"
	"time"
)

// TestHealthUpdateWhileEjectedIsKept: a health update that arrives while
// the endpoint is ejected (gRPC sends one whenever the child registers its
// listener again, after a reconnect) is what the child gets when the
// ejection ends, not the ejected state it was shown meanwhile.
func TestHealthUpdateWhileEjectedIsKept(t *testing.T) {
	h := newHarness(t, `{"consecutiveFailures":2,"failureRateThreshold":0,"baseEjectionTime":"30s","maxEjectionPercent":50}`, 4)
	h.fail(0, 2)
	h.wantState(0, true, 30*time.Second, 1, false)
	h.cc.SetAllReady() // a health update for every SubConn, the ejected one too
	h.sync()
	if got := h.picked(16); len(got) != 3 {
		t.Fatalf("picks reach %v while %s is ejected", got, h.addrs[0])
	}

	h.clock.Advance(30 * time.Second)
	h.sync()
	h.wantState(0, false, 0, 1, true)
	if got := h.picked(16); len(got) != 4 {
		t.Fatalf("picks reach %v after %s's ejection ended, want all 4", got, h.addrs[0])
	}
}
