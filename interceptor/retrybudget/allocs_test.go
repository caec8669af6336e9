package retrybudget

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestUnaryAllocationFree: a successful call through the interceptor, and a
// Deposit, allocate nothing but what refills the attempts' pool. It runs
// under -race too: the race detector makes sync.Pool drop a share of what
// is put back, and each drop costs the next call one refill, counted here;
// without -race the pool is not refilled after the first call, so the test
// demands 0 allocations.
func TestUnaryAllocationFree(t *testing.T) {
	b, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx := context.Background()
	for name, f := range map[string]func(){
		"unary":   func() { _ = b.unary(ctx, "/s/M", nil, nil, nil, okInvoker) },
		"deposit": b.Deposit,
	} {
		f()
		allocs, refills := allocsBeyondRefills(f, &attempts)
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
	orig := pool.New
	var n atomic.Uint64
	pool.New = func() any { n.Add(1); return orig() }
	defer func() { pool.New = orig }()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range allocRuns {
		f()
	}
	runtime.ReadMemStats(&after)
	return after.Mallocs - before.Mallocs, n.Load()
}
