package retrybudget

import (
	"testing"
	"time"
)

// TestEpochWrap: the budget's bucket numbers are 32 bits. After an idle
// stretch of 2^31 buckets or more, or once the numbers wrap past 2^32
// (18 hours of uptime with a 1 ms window of 64 buckets), successes are
// still counted and retries still allowed.
func TestEpochWrap(t *testing.T) {
	const bucket = 100 * time.Millisecond
	for name, tc := range map[string]struct{ start, gap int64 }{
		// slot 1 again, its stale tag 2^31−2 buckets "ahead"
		"idle 2^31 buckets": {0, 1<<31 + 2},
		// the bucket number wraps from 2^32−1 to 2
		"wrap": {1<<32 - 2, 3},
	} {
		b, now := fakeBudget(t, WithRatio(1), WithMinPerSecond(0), WithWindow(10*bucket, 10))
		now.Store(tc.start * int64(bucket))
		b.Deposit()
		if !b.TryRetry() {
			t.Fatalf("%s: first retry refused", name)
		}
		now.Add(tc.gap * int64(bucket))
		for range 5 {
			b.Deposit()
		}
		// In the wrap case the first success and retry are still in the
		// window: 6 successes, 1 retry.
		const want = 5
		if got := b.Available(); got != want {
			t.Errorf("%s: Available() = %d after 5 successes, want %d", name, got, want)
		}
		for i := range want {
			if !b.TryRetry() {
				t.Errorf("%s: retry %d refused", name, i)
				break
			}
		}
	}
}
