package outlier_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/roundrobin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/balancer/outlier"
	"github.com/grpckit/grpckit/balancer/p2c"
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
	// Enough picks that a policy choosing at random, such as p2c, reaches
	// every SubConn.
	for i := 0; i < 50*n && len(seen) < n; i++ {
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

// BenchmarkPick compares grpc-go's round_robin picker, and grpckit's p2c
// picker, alone with the same picker under grpckit_outlier_ejection, Done
// callback included, with the callers spread over every processor
// (RunParallel: one caller at -cpu 1, which scripts/bench.sh runs beside
// -cpu 2). In "watched" every endpoint failed once before the timer
// started, so every success is counted; otherwise the endpoints are healthy.
func BenchmarkPick(b *testing.B) {
	const rrCfg = `{"childPolicy":[{"round_robin":{}}]}`
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("round_robin/%d", n), func(b *testing.B) {
			benchPick(b, readyPicker(b, roundrobin.Name, "", n))
		})
		b.Run(fmt.Sprintf("outlier+round_robin/%d", n), func(b *testing.B) {
			benchPick(b, readyPicker(b, outlier.Name, rrCfg, n))
		})
		b.Run(fmt.Sprintf("outlier+round_robin_watched/%d", n), func(b *testing.B) {
			p := readyPicker(b, outlier.Name, rrCfg, n)
			failOnceEach(b, p, n)
			benchPick(b, p)
		})
		b.Run(fmt.Sprintf("p2c/%d", n), func(b *testing.B) {
			benchPick(b, readyPicker(b, p2c.Name, "", n))
		})
		b.Run(fmt.Sprintf("outlier+p2c/%d", n), func(b *testing.B) {
			benchPick(b, readyPicker(b, outlier.Name, `{"childPolicy":[{"grpckit_p2c":{}}]}`, n))
		})
	}
}

// failOnceEach fails one RPC on each of the n endpoints of a round-robin
// picker: each is watched from then on, and none is near an ejection.
func failOnceEach(b *testing.B, p balancer.Picker, n int) {
	for range n {
		res, err := p.Pick(balancer.PickInfo{Ctx: context.Background()})
		if err != nil {
			b.Fatal(err)
		}
		res.Done(balancer.DoneInfo{Err: status.Error(codes.Unavailable, "once")})
	}
}

func benchPick(b *testing.B, p balancer.Picker) {
	// A cancellable context, as an RPC's is.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	info := balancer.PickInfo{FullMethodName: "/greeter.v1.Greeter/SayHello", Ctx: ctx}
	pick := func() {
		res, err := p.Pick(info)
		if err != nil {
			b.Fatal(err)
		}
		if res.Done != nil {
			res.Done(balancer.DoneInfo{})
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			pick()
		}
	})
}
