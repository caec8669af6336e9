package outlier_test

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

	"github.com/grpckit/grpckit/balancer/outlier"
	"github.com/grpckit/grpckit/internal/testutil"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// readyPicker builds the policy named name over a fake ClientConn with n
// endpoints, moves every SubConn to READY, and returns the READY picker.
func readyPicker(tb testing.TB, name, cfg string, n int) balancer.Picker {
	tb.Helper()
	cc := testutil.NewBalancerClientConn()
	bb := balancer.Get(name)
	b := bb.Build(cc, balancer.BuildOptions{})
	tb.Cleanup(b.Close)
	var lbCfg serviceconfig.LoadBalancingConfig
	if p, ok := bb.(balancer.ConfigParser); ok && cfg != "" {
		var err error
		if lbCfg, err = p.ParseConfig(json.RawMessage(cfg)); err != nil {
			tb.Fatal(err)
		}
	}
	insts := make([]kitresolver.Instance, n)
	for i := range insts {
		insts[i] = kitresolver.Instance{Addr: fmt.Sprintf("10.0.%d.%d:443", i/250, i%250+1)}
	}
	s := balancer.ClientConnState{ResolverState: resolver.State{Endpoints: kitresolver.Endpoints(insts)}, BalancerConfig: lbCfg}
	if err := b.UpdateClientConnState(s); err != nil {
		tb.Fatal(err)
	}
	return waitReady(tb, cc)
}

// waitReady moves SubConns to READY until the balancer reports READY. It
// repeats because a parent may pass a SubConn to its child, and the child
// register its health listener, after the fake reported READY once.
func waitReady(tb testing.TB, cc *testutil.BalancerClientConn) balancer.Picker {
	tb.Helper()
	deadline := time.Now().Add(testutil.DefaultTimeout)
	for time.Now().Before(deadline) {
		cc.SetAllReady()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		for {
			s, err := cc.States.Receive(ctx)
			if err != nil {
				break
			}
			if s.ConnectivityState == connectivity.Ready && allReady(s.Picker, cc) {
				cancel()
				return s.Picker
			}
		}
		cancel()
	}
	tb.Fatal("balancer never became READY")
	return nil
}

// allReady reports whether picks reach every SubConn the fake made.
func allReady(p balancer.Picker, cc *testutil.BalancerClientConn) bool {
	seen := map[balancer.SubConn]bool{}
	n := len(cc.SubConns())
	for range 4 * n {
		res, err := p.Pick(balancer.PickInfo{Ctx: context.Background()})
		if err != nil {
			return false
		}
		seen[res.SubConn] = true
		if res.Done != nil {
			res.Done(balancer.DoneInfo{})
		}
	}
	return len(seen) == n
}

// BenchmarkPick compares grpc-go's round_robin picker alone with the same
// picker under grpckit_outlier_ejection, Done callback included.
func BenchmarkPick(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("round_robin/%d", n), func(b *testing.B) {
			benchPick(b, readyPicker(b, roundrobin.Name, "", n))
		})
		b.Run(fmt.Sprintf("outlier+round_robin/%d", n), func(b *testing.B) {
			benchPick(b, readyPicker(b, outlier.Name, `{"childPolicy":[{"round_robin":{}}]}`, n))
		})
	}
}

func benchPick(b *testing.B, p balancer.Picker) {
	// A cancellable context, as an RPC's is.
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
