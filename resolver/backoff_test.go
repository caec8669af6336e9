package resolver

import (
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Base: 100 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: 0.2}
	tests := []struct {
		attempt int
		center  time.Duration
	}{
		{0, 100 * time.Millisecond},
		{1, 200 * time.Millisecond},
		{3, 800 * time.Millisecond},
		{4, time.Second},
		{50, time.Second},
	}
	for _, tt := range tests {
		lo, hi := time.Duration(float64(tt.center)*0.8), time.Duration(float64(tt.center)*1.2)
		for range 100 {
			if d := b.Delay(tt.attempt); d < lo || d > hi {
				t.Fatalf("Delay(%d) = %v, want within [%v, %v]", tt.attempt, d, lo, hi)
			}
		}
	}
}
