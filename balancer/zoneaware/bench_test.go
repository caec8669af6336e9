package zoneaware_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/roundrobin"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"

	"github.com/grpckit/grpckit/balancer/zoneaware"
	"github.com/grpckit/grpckit/internal/testutil"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// buildReady builds the policy named name over a fake ClientConn with n
// endpoints per zone, moves every SubConn to READY and returns the fake
// and the READY picker.
func buildReady(tb testing.TB, name, cfg string, zones []string, n int) (*testutil.BalancerClientConn, balancer.Picker) {
	tb.Helper()
	cc := testutil.NewBalancerClientConn()
	bb := balancer.Get(name)
	// Not closed: neither policy starts a goroutine, and closing pick_first
	// over the fake deadlocks: the fake reports SHUTDOWN from inside
	// Shutdown, where gRPC would report it later, and pick_first holds its
	// lock there.
	b := bb.Build(cc, balancer.BuildOptions{})
	var lbCfg serviceconfig.LoadBalancingConfig
	if p, ok := bb.(balancer.ConfigParser); ok && cfg != "" {
		var err error
		if lbCfg, err = p.ParseConfig(json.RawMessage(cfg)); err != nil {
			tb.Fatal(err)
		}
	}
	var insts []kitresolver.Instance
	for zi, z := range zones {
		for i := range n {
			insts = append(insts, kitresolver.Instance{Addr: fmt.Sprintf("10.%d.%d.%d:443", zi, i/250, i%250+1), Zone: z})
		}
	}
	s := balancer.ClientConnState{ResolverState: resolver.State{Endpoints: kitresolver.Endpoints(insts)}, BalancerConfig: lbCfg}
	if err := b.UpdateClientConnState(s); err != nil {
		tb.Fatal(err)
	}
	cc.SetAllReady()
	deadline := time.Now().Add(testutil.DefaultTimeout)
	for time.Now().Before(deadline) {
		if st := cc.LastState(); st.ConnectivityState == connectivity.Ready {
			return cc, st.Picker
		}
		time.Sleep(time.Millisecond)
	}
	tb.Fatal("balancer never became READY")
	return nil, nil
}

// BenchmarkPick compares grpc-go's round_robin picker alone with
// grpckit_zone_aware over round_robin with three zones of ten endpoints:
// with the local zone whole (one zone picker), and spilling over (a random
// draw among three zones).
func BenchmarkPick(b *testing.B) {
	zones := []string{"a", "b", "c"}
	// The anchor is the child alone over the endpoints of one zone, which
	// is what each zone's child picker holds.
	b.Run("round_robin", func(b *testing.B) {
		_, p := buildReady(b, roundrobin.Name, "", zones[:1], 10)
		benchPick(b, p)
	})
	b.Run("zoneaware+round_robin/local", func(b *testing.B) {
		_, p := buildReady(b, zoneaware.Name, `{"localZone":"a"}`, zones, 10)
		benchPick(b, p)
	})
	b.Run("zoneaware+round_robin/spill", func(b *testing.B) {
		cc, _ := buildReady(b, zoneaware.Name, `{"localZone":"a"}`, zones, 10)
		cc.SubConnFor("10.0.0.1:443").UpdateState(connectivity.TransientFailure)
		deadline := time.Now().Add(testutil.DefaultTimeout)
		for !spills(cc.LastState().Picker) {
			if time.Now().After(deadline) {
				b.Fatal("never spilled over")
			}
			time.Sleep(time.Millisecond)
		}
		benchPick(b, cc.LastState().Picker)
	})
}

// spills reports whether p sends some picks out of zone a.
func spills(p balancer.Picker) bool {
	for range 200 {
		if res, err := p.Pick(balancer.PickInfo{Ctx: context.Background()}); err == nil && res.SubConn.(*testutil.SubConn).Addr()[:4] != "10.0" {
			return true
		}
	}
	return false
}

func benchPick(b *testing.B, p balancer.Picker) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	info := balancer.PickInfo{FullMethodName: "/greeter.v1.Greeter/SayHello", Ctx: ctx}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := p.Pick(info)
			if err != nil {
				b.Fatal(err)
			}
			if res.Done != nil {
				res.Done(balancer.DoneInfo{})
			}
		}
	})
}
