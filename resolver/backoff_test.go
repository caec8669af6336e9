package resolver

import (
	"math"
	"strings"
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

func TestBackoffValidate(t *testing.T) {
	ok := Backoff{Base: time.Second, Max: 2 * time.Second, Multiplier: 1.5, Jitter: 0.2}
	tests := []struct {
		name    string
		edit    func(*Backoff)
		wantErr string // "" for valid
	}{
		{"valid", func(*Backoff) {}, ""},
		{"default", func(b *Backoff) { *b = DefaultBackoff }, ""},
		{"multiplier 1, no jitter", func(b *Backoff) { b.Multiplier, b.Jitter = 1, 0 }, ""},
		{"zero base", func(b *Backoff) { b.Base = 0 }, "backoff base 0s and max 2s"},
		{"max below base", func(b *Backoff) { b.Max = time.Millisecond }, "want 0 < base <= max"},
		{"multiplier under 1", func(b *Backoff) { b.Multiplier = 0.9 }, "backoff multiplier 0.9"},
		{"NaN multiplier", func(b *Backoff) { b.Multiplier = math.NaN() }, "backoff multiplier NaN"},
		{"negative jitter", func(b *Backoff) { b.Jitter = -0.1 }, "backoff jitter -0.1"},
		{"jitter 1", func(b *Backoff) { b.Jitter = 1 }, "backoff jitter 1 is outside [0, 1)"},
		{"NaN jitter", func(b *Backoff) { b.Jitter = math.NaN() }, "backoff jitter NaN"},
	}
	for _, tt := range tests {
		b := ok
		tt.edit(&b)
		err := b.Validate()
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: Validate() = %v, want nil", tt.name, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: Validate() = %v, want an error containing %q", tt.name, err, tt.wantErr)
		}
	}
}
