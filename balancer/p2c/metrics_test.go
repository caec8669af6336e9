package p2c

import (
	"context"
	"math"
	"testing"
	"time"

	"google.golang.org/grpc/balancer"
	estats "google.golang.org/grpc/experimental/stats"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/balancer/internal/lbmetrics"
	"github.com/grpckit/grpckit/balancer/internal/shard"
	"github.com/grpckit/grpckit/balancer/internal/shardtest"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// recordingCC is a fake ClientConn whose MetricsRecorder keeps reporters.
type recordingCC struct {
	*shardtest.ClientConn
	rec *lbmetrics.TestRecorder
}

func (c recordingCC) MetricsRecorder() estats.MetricsRecorder { return c.rec }

// TestMetricsReportCostAndInFlight holds picks open on three endpoints of
// weights 1, 2 and 4 with a known latency estimate, and checks that the
// reported in-flight counts are the picks held on each endpoint and the
// reported costs est × (in flight + 1) ÷ weight, the figure Pick compares.
func TestMetricsReportCostAndInFlight(t *testing.T) {
	cc := shardtest.NewClientConn(t)
	rec := &lbmetrics.TestRecorder{}
	clock := func() int64 { return 0 }
	mcc := lbmetrics.NewConn[*picker](cc)
	var n uint64
	rnd := func() uint64 { n++; return n * 0x9e3779b97f4a7c15 }
	b := lbmetrics.Wrap(shard.New(mcc, balancer.BuildOptions{}, "p2c", newPolicy(clock, rnd), clock, logger),
		recordingCC{ClientConn: cc, rec: rec},
		func(r estats.AsyncMetricsRecorder) { report(r, mcc, "t") },
		endpointCostMetric, endpointInFlightMetric, readyEndpointsMetric)
	t.Cleanup(b.Close)

	weights := map[string]uint32{"10.0.0.1:1": 1, "10.0.0.2:1": 2, "10.0.0.3:1": 4}
	var insts []kitresolver.Instance
	for a, w := range weights {
		insts = append(insts, kitresolver.Instance{Service: "greeter", Addr: a, Weight: w})
	}
	if err := b.UpdateClientConnState(balancer.ClientConnState{ResolverState: resolver.State{Endpoints: kitresolver.Endpoints(insts)}}); err != nil {
		t.Fatal(err)
	}
	if got := rec.Collect()["grpckit.lb.p2c.ready_endpoints"]["t"]; got != 0 {
		t.Errorf("ready endpoints before any is READY = %d, want 0", got)
	}
	cc.SetAllReady()
	p, ok := mcc.Picker()
	if !ok {
		t.Fatal("no p2c picker published")
	}
	const est = float64(time.Millisecond)
	for i := range p.eps {
		p.eps[i].stats.observe(est, 0)
	}
	held := map[string]int64{}
	for range 40 {
		res, err := p.Pick(balancer.PickInfo{Ctx: context.Background()})
		if err != nil {
			t.Fatal(err)
		}
		held[shardtest.Addr(res.SubConn)]++
	}

	got := rec.Collect()
	if n := got["grpckit.lb.p2c.ready_endpoints"]["t"]; n != 3 {
		t.Errorf("ready endpoints = %d, want 3", n)
	}
	for a, w := range weights {
		if f := got["grpckit.lb.p2c.endpoint_in_flight"]["t|"+a]; f != held[a] {
			t.Errorf("%s: in flight %d, want %d", a, f, held[a])
		}
		want := est * float64(held[a]+1) / float64(w)
		if c := got["grpckit.lb.p2c.endpoint_cost"]["t|"+a]; math.Abs(float64(c)-want) > 1 {
			t.Errorf("%s: cost %d ns, want %.0f", a, c, want)
		}
	}
	if len(got["grpckit.lb.p2c.endpoint_cost"]) != 3 {
		t.Errorf("costs reported for %v, want the 3 endpoints", got["grpckit.lb.p2c.endpoint_cost"])
	}
	b.Close()
	if n := rec.Registered(); n != 0 {
		t.Errorf("%d reporters registered after Close, want 0", n)
	}
}
