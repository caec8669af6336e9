package retrybudget

import (
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

func fakeBudget(t *testing.T, opts ...Option) (*Budget, *atomic.Int64) {
	t.Helper()
	b, err := New(opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var now atomic.Int64
	b.clock = func() time.Duration { return time.Duration(now.Load()) }
	return b, &now
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		opt  Option
		want string // "" for valid
	}{
		{WithRatio(0), ""},
		{WithRatio(-0.1), "ratio -0.1"},
		{WithRatio(math.NaN()), "ratio NaN"},
		{WithMinPerSecond(0), ""},
		{WithMinPerSecond(math.Inf(1)), "min per second +Inf"},
		{WithWindow(time.Second, 64), ""},
		{WithWindow(0, 10), "window 0s"},
		{WithWindow(time.Second, 65), "buckets 65"},
		{WithWindow(5, 10), "window 5ns shorter"},
		{WithPolicy(Policy{MaxAttempts: 1, InitialBackoff: 1, MaxBackoff: 1, BackoffMultiplier: 1, RetryableStatusCodes: []codes.Code{codes.Unavailable}}), "max attempts 1"},
		{WithPolicy(Policy{MaxAttempts: 9, InitialBackoff: 0, MaxBackoff: 1, BackoffMultiplier: 1, RetryableStatusCodes: []codes.Code{codes.Unavailable}}), "initial backoff 0s"},
		{WithPolicy(Policy{MaxAttempts: 9, InitialBackoff: 1, MaxBackoff: 1, BackoffMultiplier: 0, RetryableStatusCodes: []codes.Code{codes.Unavailable}}), "multiplier 0"},
		{WithPolicy(Policy{MaxAttempts: 9, InitialBackoff: 1, MaxBackoff: 1, BackoffMultiplier: 1}), "no retryable"},
		{WithPolicy(Policy{MaxAttempts: 9, InitialBackoff: 1, MaxBackoff: 1, BackoffMultiplier: 1, RetryableStatusCodes: []codes.Code{codes.OK}}), "OK cannot be retried"},
		{WithPolicy(Policy{MaxAttempts: 9, InitialBackoff: 1, MaxBackoff: 1, BackoffMultiplier: 1, RetryableStatusCodes: []codes.Code{codes.Unavailable}}), ""},
	} {
		_, err := New(tc.opt)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("New: %v", err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "retrybudget: ")):
			t.Errorf("New = %v, want an error naming %q", err, tc.want)
		}
	}
	b, _ := New(WithPolicy(Policy{MaxAttempts: 9, InitialBackoff: 1, MaxBackoff: 1, BackoffMultiplier: 1, RetryableStatusCodes: []codes.Code{codes.Unavailable}}))
	if b.opts.policy.MaxAttempts != maxAttempts {
		t.Errorf("MaxAttempts 9 kept as %d, want gRPC's cap %d", b.opts.policy.MaxAttempts, maxAttempts)
	}
}

// TestBudgetSteps steps through the window: the reserve, the share of
// successes, and both leaving the window bucket by bucket.
func TestBudgetSteps(t *testing.T) {
	b, now := fakeBudget(t, WithRatio(0.5), WithMinPerSecond(0.2), WithWindow(10*time.Second, 10))
	take := func(step string, want int) {
		t.Helper()
		if got := b.Available(); got != want {
			t.Errorf("%s: Available = %d, want %d", step, got, want)
		}
		n := 0
		for b.TryRetry() {
			n++
		}
		if n != want {
			t.Errorf("%s: %d retries allowed, want %d", step, n, want)
		}
	}
	take("reserve only", 2)
	now.Store(int64(2 * time.Second))
	for range 7 {
		b.Deposit()
	}
	take("7 successes at ratio 0.5", 3)
	now.Store(int64(9 * time.Second))
	take("nothing new", 0)
	now.Store(int64(10 * time.Second))
	take("the reserve's retries left the window", 2)
	now.Store(int64(12 * time.Second))
	take("the successes left the window", 0)
	now.Store(int64(time.Hour))
	take("an hour later", 2)
}

// TestBudgetModel is a model-based test under concurrency: goroutines
// deposit successes and ask for retries at random while the fake clock
// moves, and every grant is recorded with the bucket it was counted in.
// For every bucket g holding a grant, the grants in the window ending with
// g never exceed floor(Ratio · successes in that window + reserve), counting
// the successes as the budget reported them.
func TestBudgetModel(t *testing.T) {
	const (
		goroutines = 8
		ops        = 4000
		buckets    = 5
	)
	for _, ratio := range []float64{0, 0.2, 1} {
		b, now := fakeBudget(t, WithRatio(ratio), WithMinPerSecond(1), WithWindow(5*time.Second, buckets))
		var mu sync.Mutex
		deposits, grants := map[uint32]int{}, map[uint32]int{}
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				rnd := rand.New(rand.NewPCG(uint64(g), 7))
				for range ops {
					switch r := rnd.IntN(100); {
					case r < 2:
						now.Add(int64(rnd.IntN(1500)) * int64(time.Millisecond))
					case r < 60:
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
		for g := range grants {
			var d, r int
			for e := g - buckets + 1; e <= g; e++ {
				d += deposits[e]
				r += grants[e]
			}
			total += grants[g]
			if limit := int(math.Floor(ratio*float64(d) + 5)); r > limit {
				t.Errorf("ratio %v: window ending with bucket %d holds %d retries, budget %d (%d successes)", ratio, g, r, limit, d)
			}
		}
		if total == 0 {
			t.Errorf("ratio %v: no retry granted at all", ratio)
		}
	}
}
