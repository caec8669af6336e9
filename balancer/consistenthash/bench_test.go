package consistenthash

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/balancer"
	_ "google.golang.org/grpc/balancer/ringhash" // registers ring_hash_experimental, the anchor
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/metadata"

	"github.com/grpckit/grpckit/internal/testutil"
)

// ringHashName is grpc-go's ring_hash policy; v1.85 registers it under its
// experimental name. Its requestHashHeader needs
// GRPC_EXPERIMENTAL_RING_HASH_SET_REQUEST_HASH_KEY, which defaults to true.
const ringHashName = "ring_hash_experimental"

// readyPicker builds policy name over n endpoints with the fake ClientConn,
// makes every endpoint READY and returns the resulting picker.
func readyPicker(b *testing.B, name, cfgJSON string, n int) balancer.Picker {
	b.Helper()
	cc := testutil.NewBalancerClientConn()
	bb := balancer.Get(name)
	cfg, err := bb.(balancer.ConfigParser).ParseConfig([]byte(cfgJSON))
	if err != nil {
		b.Fatal(err)
	}
	bal := bb.Build(cc, balancer.BuildOptions{})
	b.Cleanup(bal.Close)
	if err := bal.UpdateClientConnState(balancer.ClientConnState{ResolverState: testState(n), BalancerConfig: cfg}); err != nil {
		b.Fatal(err)
	}
	return waitAllReady(b, cc, n)
}

// waitAllReady picks the benchmark's keys (ring_hash connects lazily, on pick)
// and marks SubConns READY until every pick succeeds.
func waitAllReady(b *testing.B, cc *testutil.BalancerClientConn, n int) balancer.Picker {
	deadline := time.Now().Add(testutil.DefaultTimeout)
	for time.Now().Before(deadline) {
		cc.SetAllReady()
		s := cc.LastState()
		if allPicksReady(s.Picker) && s.ConnectivityState == connectivity.Ready {
			return s.Picker
		}
		time.Sleep(time.Millisecond) // ring_hash exits idle from goroutines; let them run
	}
	b.Fatalf("%d endpoints not READY before the deadline", n)
	return nil
}

// allPicksReady reports whether the picks of the benchmark's keys all succeed.
func allPicksReady(p balancer.Picker) bool {
	ok := true
	for i := range 1024 {
		if _, err := p.Pick(balancer.PickInfo{Ctx: headerCtx(i)}); err != nil {
			ok = false // keep picking: ring_hash connects the owners it is asked for
		}
	}
	return ok
}

func headerCtx(i int) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "x-user-id", fmt.Sprintf("user-%d", i))
}

func benchPick(b *testing.B, p balancer.Picker, ctxs []context.Context) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			res, err := p.Pick(balancer.PickInfo{FullMethodName: "/greeter.v1.Greeter/SayHello", Ctx: ctxs[i&1023]})
			if err != nil {
				b.Fatal(err)
			}
			if res.Done != nil {
				res.Done(balancer.DoneInfo{})
			}
			i++
		}
	})
}

func contexts(f func(i int) context.Context) []context.Context {
	ctxs := make([]context.Context, 1024)
	for i := range ctxs {
		ctxs[i] = f(i)
	}
	return ctxs
}

// BenchmarkPick compares this policy's Pick with grpc-go's ring_hash, both
// keyed by the x-user-id header, and this policy keyed by WithKey and with
// bounded loads.
func BenchmarkPick(b *testing.B) {
	header := contexts(headerCtx)
	withKey := contexts(func(i int) context.Context { return WithKey(context.Background(), fmt.Sprintf("user-%d", i)) })
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("ring_hash/header/%d", n), func(b *testing.B) {
			benchPick(b, readyPicker(b, ringHashName, `{"requestHashHeader":"x-user-id"}`, n), header)
		})
		b.Run(fmt.Sprintf("consistenthash/header/%d", n), func(b *testing.B) {
			benchPick(b, readyPicker(b, Name, `{"hashHeader":"x-user-id"}`, n), header)
		})
		b.Run(fmt.Sprintf("consistenthash/withkey/%d", n), func(b *testing.B) {
			benchPick(b, readyPicker(b, Name, `{"hashHeader":"x-user-id"}`, n), withKey)
		})
		b.Run(fmt.Sprintf("consistenthash/withkey-bounded/%d", n), func(b *testing.B) {
			benchPick(b, readyPicker(b, Name, `{"loadFactor":1.25}`, n), withKey)
		})
	}
}
