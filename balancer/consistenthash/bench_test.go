package consistenthash

import (
	"context"
	"fmt"
	"runtime"
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
	p, closeFn := buildReady(b, testutil.NewBalancerClientConn(), name, cfgJSON, n)
	b.Cleanup(closeFn)
	return p
}

// buildReady is readyPicker on cc that returns the function that closes the
// balancer.
func buildReady(b *testing.B, cc *testutil.BalancerClientConn, name, cfgJSON string, n int) (balancer.Picker, func()) {
	b.Helper()
	bb := balancer.Get(name)
	cfg, err := bb.(balancer.ConfigParser).ParseConfig([]byte(cfgJSON))
	if err != nil {
		b.Fatal(err)
	}
	bal := bb.Build(cc, balancer.BuildOptions{})
	if err := bal.UpdateClientConnState(balancer.ClientConnState{ResolverState: testState(n), BalancerConfig: cfg}); err != nil {
		bal.Close()
		b.Fatal(err)
	}
	return waitAllReady(b, cc, n), bal.Close
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

// BenchmarkMemory reports the heap that one channel's policy holds with every
// endpoint READY (balancer, children, SubConns of the fake ClientConn, table,
// picker) as B/channel, beside grpc-go's ring_hash with its defaults. The fake
// ClientConn's own buffers are left out; the pickers it keeps are dropped
// before measuring.
func BenchmarkMemory(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("ring_hash/%d", n), func(b *testing.B) {
			benchMemory(b, ringHashName, `{"requestHashHeader":"x-user-id"}`, n)
		})
		b.Run(fmt.Sprintf("consistenthash/%d", n), func(b *testing.B) {
			benchMemory(b, Name, `{"hashHeader":"x-user-id"}`, n)
		})
	}
}

func benchMemory(b *testing.B, name, cfgJSON string, n int) {
	ccs := make([]*testutil.BalancerClientConn, b.N)
	for i := range ccs {
		ccs[i] = testutil.NewBalancerClientConn()
	}
	pickers, closers := make([]balancer.Picker, b.N), make([]func(), b.N)
	before := heapAlloc()
	for i, cc := range ccs {
		pickers[i], closers[i] = buildReady(b, cc, name, cfgJSON, n)
		cc.States.Drain()
		cc.Pickers.Drain()
	}
	after := heapAlloc()
	runtime.KeepAlive(pickers)
	for _, c := range closers {
		c()
	}
	b.ReportMetric(float64(after-before)/float64(b.N), "B/channel")
}

// heapAlloc returns the bytes of live heap objects after a collection.
func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkTableBuild measures building the table at the default size, which
// happens when the endpoints or their weights change.
func BenchmarkTableBuild(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		eps := testEndpoints(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				newTable(eps, DefaultRingSize)
			}
		})
	}
}

// BenchmarkPickSomeDown picks with every tenth endpoint not READY, so that
// about a tenth of the keys take the fallback among the READY endpoints.
func BenchmarkPickSomeDown(b *testing.B) {
	ctxs := contexts(func(i int) context.Context { return WithKey(context.Background(), fmt.Sprintf("user-%d", i)) })
	for _, n := range []int{10, 100, 1000} {
		for _, weighted := range []bool{false, true} {
			eps := testEndpoints(n)
			for i := range eps {
				if weighted {
					eps[i].weight = uint32(1 + i%3)
				}
			}
			p := newTestPicker(newTable(eps, DefaultRingSize), LBConfig{})
			for i := 0; i < n; i += 10 {
				p.setReady(i, false)
			}
			b.Run(fmt.Sprintf("weighted=%v/%d", weighted, n), func(b *testing.B) { benchPick(b, p, ctxs) })
		}
	}
}
