package zoneaware_test

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/grpckit/grpckit/balancer/outlier"
	"github.com/grpckit/grpckit/balancer/p2c"
	"github.com/grpckit/grpckit/balancer/wrr"
	"github.com/grpckit/grpckit/balancer/zoneaware"
	"github.com/grpckit/grpckit/internal/greeter"
	"github.com/grpckit/grpckit/internal/testutil"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// startZones starts greeters; zones[i] is the zone of the i-th. Their ids
// are "<zone>-<i>".
func startZones(t *testing.T, zones ...string) []*greeter.Running {
	t.Helper()
	gs := make([]*greeter.Running, len(zones))
	for i, z := range zones {
		gs[i] = greeter.Start(t, kitresolver.Instance{ID: fmt.Sprintf("%s-%d", z, i), Service: "greeter", Zone: z})
	}
	return gs
}

// dial connects to gs with the given zoneaware config.
func dial(t *testing.T, gs []*greeter.Running, cfg string) greeterv1.GreeterClient {
	t.Helper()
	c, _ := dialResolver(t, gs, cfg)
	return c
}

// dialResolver is dial that also returns the resolver, for tests that
// update the endpoints.
func dialResolver(t *testing.T, gs []*greeter.Running, cfg string) (greeterv1.GreeterClient, *manual.Resolver) {
	t.Helper()
	insts := make([]kitresolver.Instance, len(gs))
	for i, g := range gs {
		insts[i] = g.Instance()
	}
	r := manual.NewBuilderWithScheme("zonetest")
	r.InitialState(resolver.State{Endpoints: kitresolver.Endpoints(insts)})
	sc := fmt.Sprintf(`{"loadBalancingConfig":[{%q:%s}]}`, zoneaware.Name, cfg)
	conn, err := grpc.NewClient(r.Scheme()+":///greeter",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithResolvers(r),
		grpc.WithDefaultServiceConfig(sc))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return greeterv1.NewGreeterClient(conn), r
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	t.Cleanup(cancel)
	return ctx
}

// tally makes n calls and counts answers per zone and per instance; failed
// calls count under the zone "error".
func tally(t *testing.T, ctx context.Context, c greeterv1.GreeterClient, n int) (zones, insts map[string]int) {
	t.Helper()
	zones, insts = map[string]int{}, map[string]int{}
	for range n {
		resp, err := c.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "zone"})
		if err != nil {
			zones["error"]++
			continue
		}
		zones[resp.GetGreeting().GetZone()]++
		insts[resp.GetGreeting().GetInstanceId()]++
	}
	return zones, insts
}

// eventually calls until cond holds for a batch of n calls without a
// failure, or fails the test at the context's deadline. A call may fail
// right after a server stops, before the channel notices.
func eventually(t *testing.T, ctx context.Context, c greeterv1.GreeterClient, n int, what string, cond func(zones, insts map[string]int) bool) {
	t.Helper()
	var zones, insts map[string]int
	for ctx.Err() == nil {
		if zones, insts = tally(t, ctx, c, n); zones["error"] == 0 && cond(zones, insts) {
			return
		}
	}
	t.Fatalf("never %s; last batch: zones %v, instances %v", what, zones, insts)
}

func TestPrefersLocalZone(t *testing.T) {
	ctx := testContext(t)
	gs := startZones(t, "a", "a", "b", "b")
	c := dial(t, gs, `{"localZone":"a","childPolicy":[{"round_robin":{}}]}`)
	eventually(t, ctx, c, 40, "sent every call to zone a across both its instances", func(z, in map[string]int) bool {
		return z["a"] == 40 && in["a-0"] > 0 && in["a-1"] > 0
	})
	if zones, _ := tally(t, ctx, c, 200); zones["a"] != 200 {
		// Nothing failed either: that would count under "error".
		t.Fatalf("with zone a healthy, calls went %v; want all to a", zones)
	}
}

func TestSpillsOverWhenLocalInstancesDie(t *testing.T) {
	ctx := testContext(t)
	gs := startZones(t, "a", "a", "b", "b", "c", "c")
	c := dial(t, gs, `{"localZone":"a","panicThreshold":0.5}`)
	eventually(t, ctx, c, 30, "settled on zone a", func(z, _ map[string]int) bool { return z["a"] == 30 })

	// One of two local instances gone: READY share 1/5 against a traffic
	// share 2/6, so zone a keeps 60% and b and c share the rest.
	gs[0].Stop()
	eventually(t, ctx, c, 400, "spilled 40% over to b and c", func(z, in map[string]int) bool {
		return in["a-0"] == 0 && between(z["a"], 0.45*400, 0.75*400) && z["b"] > 0.1*400 && z["c"] > 0.1*400
	})

	// Both gone: everything spills, and no call fails.
	gs[1].Stop()
	eventually(t, ctx, c, 100, "moved all traffic to b and c", func(z, _ map[string]int) bool {
		return z["a"] == 0 && z["b"] > 20 && z["c"] > 20
	})
}

func between(n int, lo, hi float64) bool { return float64(n) >= lo && float64(n) <= hi }

func TestPanicThresholdIgnoresZones(t *testing.T) {
	ctx := testContext(t)
	gs := startZones(t, "a", "a", "b", "b")
	c := dial(t, gs, `{"localZone":"a","panicThreshold":0.8}`)
	eventually(t, ctx, c, 40, "settled on zone a", func(z, _ map[string]int) bool { return z["a"] == 40 })

	// 3 of 4 READY is under 80%: zones are ignored and the healthy b
	// instance takes its even share although zone a is whole.
	gs[3].Stop()
	eventually(t, ctx, c, 300, "spread evenly over the 3 live instances", func(_, in map[string]int) bool {
		return in["b-3"] == 0 && in["a-0"] > 60 && in["a-1"] > 60 && in["b-2"] > 60
	})
}

func TestLocalZoneFromProcess(t *testing.T) {
	ctx := testContext(t)
	gs := startZones(t, "a", "b")

	t.Setenv(zoneaware.EnvLocalZone, "b")
	c := dial(t, gs, `{}`)
	eventually(t, ctx, c, 30, "followed GRPCKIT_LOCAL_ZONE to b", func(z, _ map[string]int) bool { return z["b"] == 30 })

	zoneaware.SetLocalZone("a")
	t.Cleanup(func() { zoneaware.SetLocalZone("") })
	c = dial(t, gs, `{}`)
	eventually(t, ctx, c, 30, "followed SetLocalZone to a over the environment", func(z, _ map[string]int) bool { return z["a"] == 30 })

	c = dial(t, gs, `{"localZone":"b"}`)
	eventually(t, ctx, c, 30, "followed the config to b over SetLocalZone", func(z, _ map[string]int) bool { return z["b"] == 30 })
}

// TestPrefersLocalZoneUnderGrpckitChildren runs the policy over grpckit's
// own policies.
func TestPrefersLocalZoneUnderGrpckitChildren(t *testing.T) {
	for _, child := range []string{p2c.Name, wrr.Name} {
		t.Run(child, func(t *testing.T) {
			ctx := testContext(t)
			gs := startZones(t, "a", "a", "b", "b")
			c := dial(t, gs, fmt.Sprintf(`{"localZone":"b","childPolicy":[{%q:{}}]}`, child))
			eventually(t, ctx, c, 40, "sent every call to zone b", func(z, in map[string]int) bool { return z["b"] == 40 })
			gs[2].Stop()
			gs[3].Stop()
			eventually(t, ctx, c, 40, "spilled over to zone a", func(z, in map[string]int) bool { return z["a"] == 40 })
		})
	}
}

// TestWeightChangeKeepsTrafficLocal: re-registering a local instance with a
// new weight (as a Consul check in warning or an etcd re-registration does)
// leaves the local zone whole, so every call stays in it.
func TestWeightChangeKeepsTrafficLocal(t *testing.T) {
	ctx := testContext(t)
	gs := startZones(t, "a", "a", "b", "b")
	c, r := dialResolver(t, gs, `{"localZone":"a","childPolicy":[{"round_robin":{}}]}`)
	eventually(t, ctx, c, 40, "sent every call to zone a across both its instances", func(z, in map[string]int) bool {
		return z["a"] == 40 && in["a-0"] > 0 && in["a-1"] > 0
	})
	for _, w := range []uint32{5, 2} {
		insts := make([]kitresolver.Instance, len(gs))
		for i, g := range gs {
			insts[i] = g.Instance()
		}
		insts[0].Weight = w
		// The channel applies the update before UpdateState returns.
		r.UpdateState(resolver.State{Endpoints: kitresolver.Endpoints(insts)})
		if zones, insts := tally(t, ctx, c, 200); zones["a"] != 200 {
			t.Fatalf("after a-0's weight became %d, calls went %v (instances %v); want all to zone a", w, zones, insts)
		}
	}
}

// TestOutlierChildEjectionShrinksZone: with outlier ejection as the child,
// an ejected local instance counts as down, so its zone's share falls and
// the other zone takes the rest, instead of the one healthy local instance
// taking every call.
func TestOutlierChildEjectionShrinksZone(t *testing.T) {
	ctx := testContext(t)
	gs := startZones(t, "a", "a", "b", "b")
	c := dial(t, gs, fmt.Sprintf(`{"localZone":"a","childPolicy":[{%q:{"consecutiveFailures":2,
		"failureRateThreshold":0,"baseEjectionTime":"5m","maxEjectionPercent":50,"childPolicy":[{"round_robin":{}}]}}]}`, outlier.Name))
	eventually(t, ctx, c, 40, "sent every call to zone a across both its instances", func(z, in map[string]int) bool {
		return z["a"] == 40 && in["a-0"] > 0 && in["a-1"] > 0
	})
	gs[0].SetFailure(codes.Internal)
	// Zone a: READY share 1/3 against a traffic share 1/2 keeps 2/3.
	eventually(t, ctx, c, 300, "ejected a-0 and spilled a third to zone b", func(z, in map[string]int) bool {
		return in["a-0"] == 0 && between(z["a"], 0.5*300, 0.8*300) && between(z["b"], 0.2*300, 0.5*300)
	})
}
