package resolver

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Backoff computes jittered exponential delays between retries. The zero value
// is not usable; use DefaultBackoff or fill every field.
type Backoff struct {
	// Base is the delay before the first retry.
	Base time.Duration
	// Max caps the delay.
	Max time.Duration
	// Multiplier grows the delay after each failed attempt; at least 1.
	Multiplier float64
	// Jitter spreads each delay uniformly over ±Jitter of its value, in [0, 1).
	Jitter float64
}

// DefaultBackoff starts at 100 ms and grows ×1.6 up to 10 s, ±20 %.
var DefaultBackoff = Backoff{Base: 100 * time.Millisecond, Max: 10 * time.Second, Multiplier: 1.6, Jitter: 0.2}

// Validate reports a Backoff that cannot work: Base not positive, Max below
// Base, a Multiplier under 1 or a Jitter outside [0, 1). NaN is refused too:
// it would make every delay zero.
func (b Backoff) Validate() error {
	switch {
	case b.Base <= 0 || b.Max < b.Base:
		return fmt.Errorf("backoff base %v and max %v: want 0 < base <= max", b.Base, b.Max)
	case !(b.Multiplier >= 1): // also NaN
		return fmt.Errorf("backoff multiplier %v: want a number of at least 1", b.Multiplier)
	case !(b.Jitter >= 0 && b.Jitter < 1): // also NaN
		return fmt.Errorf("backoff jitter %v is outside [0, 1)", b.Jitter)
	}
	return nil
}

// Delay returns the delay before retry number attempt (0 for the first retry),
// the largest Duration at most.
func (b Backoff) Delay(attempt int) time.Duration {
	d := float64(b.Base)
	for i := 0; i < attempt && d < float64(b.Max); i++ {
		d *= b.Multiplier
	}
	d = min(d, float64(b.Max))
	d *= 1 + b.Jitter*(rand.Float64()*2-1)
	if d >= math.MaxInt64 { // the jitter took a Max near the largest Duration past it
		return math.MaxInt64
	}
	return time.Duration(d)
}
