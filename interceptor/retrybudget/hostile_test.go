package retrybudget

import (
	"math"
	"testing"
	"time"
)

// TestNilOption: a nil option is an error naming its position, not a panic.
func TestNilOption(t *testing.T) {
	for _, tc := range []struct {
		opts []Option
		want string
	}{
		{[]Option{nil}, "retrybudget: nil option at 0"},
		{[]Option{WithRatio(0.5), nil, WithMinPerSecond(1), nil}, "retrybudget: nil option at 1\nretrybudget: nil option at 3"},
	} {
		b, err := New(tc.opts...)
		if err == nil || err.Error() != tc.want || b != nil {
			t.Errorf("New(%d options) = %v, %v; want the error %q", len(tc.opts), b, err, tc.want)
		}
	}
}

// TestHugeSettings: a ratio, reserve or window too large for a retry count
// allows as many retries as a count can hold; it never wraps to refusing
// every retry.
func TestHugeSettings(t *testing.T) {
	for name, opts := range map[string][]Option{
		"ratio":        {WithRatio(math.MaxFloat64), WithMinPerSecond(0)},
		"min":          {WithMinPerSecond(math.MaxFloat64)},
		"window":       {WithWindow(math.MaxInt64, 1)},
		"ratio+window": {WithRatio(1e300), WithWindow(math.MaxInt64, 64)},
	} {
		b, now := fakeBudget(t, opts...)
		now.Store(int64(time.Second))
		for range 3 {
			b.Deposit()
		}
		if got := b.Available(); got <= 1000 {
			t.Errorf("%s: Available() = %d after 3 successes, want a huge number", name, got)
		}
		for i := range 3 {
			if !b.TryRetry() {
				t.Fatalf("%s: retry %d refused", name, i)
			}
		}
		if got := b.Available(); got <= 1000 {
			t.Errorf("%s: Available() = %d after 3 retries, want a huge number", name, got)
		}
	}
}
