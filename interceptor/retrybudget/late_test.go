package retrybudget

import (
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBudgetModelLateClock: as TestBudgetModel, but a third of the clock
// readings are late by up to two buckets and more (a reader preempted
// between reading the clock and counting), while the clock moves by
// whole and partial buckets and jumps past whole windows. In every window
// ending with a bucket a retry was granted in, the retries stay within
// Ratio times the successes counted in that window plus the reserve.
func TestBudgetModelLateClock(t *testing.T) {
	const (
		goroutines = 8
		ops        = 5000
		buckets    = 4
		bucket     = time.Second
	)
	for _, ratio := range []float64{0, 0.2, 0.5} {
		b, now := fakeBudget(t, WithRatio(ratio), WithMinPerSecond(0.5), WithWindow(buckets*bucket, buckets))
		var seq atomic.Uint64
		b.clock = func() time.Duration {
			n := now.Load()
			if s := seq.Add(1); s%3 == 0 {
				n -= int64(s%7) * int64(bucket) / 2 // late by up to 3 buckets
			}
			return time.Duration(max(n, 0))
		}
		var mu sync.Mutex
		deposits, grants := map[uint32]int{}, map[uint32]int{}
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				rnd := rand.New(rand.NewPCG(uint64(g), uint64(ratio*100)))
				for range ops {
					switch r := rnd.IntN(200); {
					case r < 3:
						now.Add(int64(rnd.IntN(1500)) * int64(time.Millisecond))
					case r < 4:
						now.Add(int64(buckets+rnd.IntN(3)) * int64(bucket))
					case r < 110:
						e := b.deposit()
						mu.Lock()
						deposits[e]++
						mu.Unlock()
					default:
						if e, ok := b.withdraw(); ok {
							mu.Lock()
							grants[e]++
							mu.Unlock()
						}
					}
				}
			})
		}
		wg.Wait()
		total := 0
		reserve := 0.5 * buckets
		for g := range grants {
			var d, r int
			for e := g - buckets + 1; e <= g; e++ {
				d += deposits[e]
				r += grants[e]
			}
			total += grants[g]
			if limit := int(math.Floor(ratio*float64(d) + reserve)); r > limit {
				t.Errorf("ratio %v: window ending with bucket %d holds %d retries, budget %d (%d successes)", ratio, g, r, limit, d)
			}
		}
		if total == 0 {
			t.Errorf("ratio %v: no retry granted at all", ratio)
		}
	}
}
