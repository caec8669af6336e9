package resolver

import (
	"math"
	"testing"
	"time"
)

// TestBackoffDelayNeverOverflows: a Max near the largest Duration (a
// "never give up for long" setting) with jitter above 1 must still give a
// positive delay, the largest Duration at most, not a float conversion that
// wraps to a negative delay (a timer firing at once: a retry hot loop).
func TestBackoffDelayNeverOverflows(t *testing.T) {
	for _, b := range []Backoff{
		{Base: time.Second, Max: math.MaxInt64, Multiplier: 2, Jitter: 0.5},
		{Base: math.MaxInt64, Max: math.MaxInt64, Multiplier: 1, Jitter: 0.99},
		{Base: time.Second, Max: math.MaxInt64, Multiplier: math.Inf(1), Jitter: 0.2},
	} {
		for attempt := range 200 {
			for range 20 {
				if d := b.Delay(attempt); d <= 0 {
					t.Fatalf("%+v: Delay(%d) = %v, want a positive delay", b, attempt, d)
				}
			}
		}
	}
}
