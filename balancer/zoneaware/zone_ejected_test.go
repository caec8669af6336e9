package zoneaware

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/internal/testutil"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestZoneWithEveryEndpointEjected: in both nestings, when the outlier
// policy ejects every endpoint of the local zone, every call goes to the
// other zone (none fails or queues), and the local zone takes them all back
// once the ejections end.
func TestZoneWithEveryEndpointEjected(t *testing.T) {
	const outlierCfg = `"consecutiveFailures":1,"failureRateThreshold":0,"baseEjectionTime":"1h","maxEjectionTime":"1h"`
	for _, tc := range []struct{ name, parent, cfg string }{
		{"zoneaware{outlier}", Name, `{"localZone":"a","childPolicy":[{"` + testOutlier + `":{` + outlierCfg + `,"maxEjectionPercent":100,"childPolicy":[{"round_robin":{}}]}}]}`},
		{"outlier{zoneaware}", testOutlier, `{` + outlierCfg + `,"maxEjectionPercent":50,"childPolicy":[{"` + Name + `":{"localZone":"a","childPolicy":[{"round_robin":{}}]}}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bb := balancer.Get(tc.parent)
			cfg, err := bb.(balancer.ConfigParser).ParseConfig(json.RawMessage(tc.cfg))
			if err != nil {
				t.Fatal(err)
			}
			cc := testutil.NewBalancerClientConn()
			b := bb.Build(cc, balancer.BuildOptions{})
			defer b.Close()
			insts := []kitresolver.Instance{inst("a", 0, 1), inst("a", 1, 1), inst("b", 0, 1), inst("b", 1, 1)}
			zoneOf := map[string]string{}
			for _, in := range insts {
				zoneOf[in.Addr] = in.Zone
			}
			if err := b.UpdateClientConnState(balancer.ClientConnState{ResolverState: resolver.State{Endpoints: kitresolver.Endpoints(insts)}, BalancerConfig: cfg}); err != nil {
				t.Fatal(err)
			}
			// picks returns where n picks went by zone; failures of zone a's
			// endpoints are reported when fail is set.
			picks := func(n int, fail bool) map[string]int {
				out := map[string]int{}
				p := cc.LastState().Picker
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
					z := zoneOf[res.SubConn.(*testutil.SubConn).Addr()]
					out[z]++
					if fail && z == "a" && res.Done != nil {
						res.Done(balancer.DoneInfo{Err: status.Error(codes.Unavailable, "down")})
					}
				}
				return out
			}
			waitFor := func(what string, want map[string]int, fail bool) {
				t.Helper()
				var got map[string]int
				for deadline := time.Now().Add(testutil.DefaultTimeout); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
					cc.SetAllReady()
					if got = picks(100, fail); fmt.Sprint(got) == fmt.Sprint(want) {
						return
					}
				}
				t.Fatalf("%s: 100 picks went %v, want %v", what, got, want)
			}
			waitFor("all healthy", map[string]int{"a": 100}, false)
			waitFor("zone a's endpoints failing", map[string]int{"b": 100}, true)
			// Stable: with zone a ejected, picks keep going to b, none fails.
			if got := picks(1000, false); fmt.Sprint(got) != fmt.Sprint(map[string]int{"b": 1000}) {
				t.Fatalf("with zone a ejected, 1000 picks went %v", got)
			}
			testClock.Advance(time.Hour)
			waitFor("zone a let back", map[string]int{"a": 100}, false)
		})
	}
}
