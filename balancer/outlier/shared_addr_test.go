package outlier

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/internal/testutil"
)

// TestEndpointsSharingAnAddress: two endpoints that share an address keep
// two records; the one whose first address is its own is counted and
// ejected for its failures like any other, instead of being folded into the
// other's record with its SubConns counted by nobody.
func TestEndpointsSharingAnAddress(t *testing.T) {
	h := newHarness(t, `{"consecutiveFailures":2,"failureRateThreshold":0,"baseEjectionTime":"30s","maxEjectionPercent":50}`, 1)
	const a, b, c = "10.0.0.1:443", "10.0.0.2:443", "10.0.0.3:443"
	h.addrs = []string{a, b, c}
	s := balancer.ClientConnState{ResolverState: resolver.State{Endpoints: []resolver.Endpoint{
		{Addresses: []resolver.Address{{Addr: a}}},
		{Addresses: []resolver.Address{{Addr: b}, {Addr: a}}},
		{Addresses: []resolver.Address{{Addr: c}}},
	}}, BalancerConfig: h.b.cfg.Load()}
	if err := h.b.UpdateClientConnState(s); err != nil {
		t.Fatal(err)
	}
	h.waitPicks(a, b, c)

	for failed := 0; failed < 2; {
		res, err := h.cc.LastState().Picker.Pick(balancer.PickInfo{Ctx: context.Background()})
		if err != nil {
			t.Fatal(err)
		}
		if res.SubConn.(*testutil.SubConn).Addr() == b {
			if res.Done == nil {
				t.Fatalf("a pick of %s counts nothing: its endpoint has no record", b)
			}
			res.Done(balancer.DoneInfo{Err: status.Error(codes.Unavailable, "down")})
			failed++
		}
	}
	h.sync()
	for deadline := time.Now().Add(testutil.DefaultTimeout); ; time.Sleep(time.Millisecond) {
		got := h.picked(30)
		if len(got) == 2 && got[0] == a && got[1] == c {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after two failures on %s picks reach %v, want %v", b, got, []string{a, c})
		}
	}
}
