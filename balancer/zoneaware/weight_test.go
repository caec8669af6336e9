package zoneaware

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestWeightChangeKeepsEndpointReady: an endpoint whose weight changes, as a
// Consul service in warning or an etcd re-registration makes it, keeps its
// SubConn, and must keep counting as READY under its new weight.
func TestWeightChangeKeepsEndpointReady(t *testing.T) {
	h := newHarness(t, `{"localZone":"a","childPolicy":[{"round_robin":{}}]}`)
	h.update(inst("a", 0, 1), inst("a", 1, 1), inst("b", 0, 1), inst("b", 1, 1))
	h.waitPicks(100, "a")

	for _, w := range []uint32{3, 1, 2} {
		h.update(inst("a", 0, w), inst("a", 1, 1), inst("b", 0, 1), inst("b", 1, 1))
		want := []zoneLoad{{zone: "a", total: float64(w + 1), ready: float64(w + 1)}, {zone: "b", total: 2, ready: 2}}
		if diff := cmp.Diff(want, h.loads(), cmp.AllowUnexported(zoneLoad{})); diff != "" {
			t.Fatalf("after a0's weight became %d, zones (-want +got):\n%s", w, diff)
		}
		if got := h.picks(200); got["a"] != 200 {
			t.Fatalf("after a0's weight became %d, 200 picks went %v; want all to the healthy local zone", w, got)
		}
	}
}
