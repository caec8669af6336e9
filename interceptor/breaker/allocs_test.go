package breaker

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
)

// TestUnaryAllocationFree: a call through a closed breaker, and through a
// Group in adaptive-throttling mode, allocates nothing but what refills
// the call options' pool. It runs under -race too: the race detector makes
// sync.Pool drop a share of what is put back, and each such drop costs the
// next call one refill, counted here; without -race the pool is never
// refilled after the first call, so the test demands 0 allocations.
func TestUnaryAllocationFree(t *testing.T) {
	invoker := func(_ context.Context, _ string, _, _ any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
		for _, o := range opts {
			if p, ok := o.(grpc.PeerCallOption); ok {
				*p.PeerAddr = peer.Peer{Addr: backendAddr}
			}
		}
		return nil
	}
	for name, opts := range map[string][]Option{
		"breaker":  nil,
		"throttle": {WithAdaptiveThrottling(Throttling{})},
	} {
		g, err := New(opts...)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		unary := g.UnaryClientInterceptor()
		ctx := context.Background()
		call := func() { _ = unary(ctx, "/s/M", nil, nil, nil, invoker) }
		call()
		allocs, refills := allocsBeyondRefills(call, &callOptionsPool)
		t.Logf("%s: %d allocations, %d pool refills in %d calls", name, allocs, refills, allocRuns)
		if allocs > refills {
			t.Errorf("%s: %d allocations in %d calls, %d of them refilling the pool; want none other", name, allocs, allocRuns, refills)
		}
	}
}

const allocRuns = 1000

// allocsBeyondRefills runs f allocRuns times on one P and returns the heap
// allocations made and how many times pool's New ran meanwhile (each New
// is one allocation). The pool's New is wrapped to count, then restored.
func allocsBeyondRefills(f func(), pool *sync.Pool) (allocs, refills uint64) {
	newp := &pool.New
	orig := *newp
	var n atomic.Uint64
	*newp = func() any { n.Add(1); return orig() }
	defer func() { *newp = orig }()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range allocRuns {
		f()
	}
	runtime.ReadMemStats(&after)
	return after.Mallocs - before.Mallocs, n.Load()
}
