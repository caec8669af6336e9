package etcd

import (
	"math"
	"strings"
	"testing"
	"time"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestValidateRefusesNonNumberBackoff: a NaN multiplier or jitter passes every
// ordered comparison, and would give delays of no duration at all: a
// resolver re-listing etcd in a hot loop. Each is refused at construction.
func TestValidateRefusesNonNumberBackoff(t *testing.T) {
	good := kitresolver.Backoff{Base: time.Second, Max: 2 * time.Second, Multiplier: 1.6, Jitter: 0.2}
	nan := math.NaN()
	for _, tt := range []struct {
		name    string
		mutate  func(*kitresolver.Backoff)
		wantErr string
	}{
		{"NaN multiplier", func(b *kitresolver.Backoff) { b.Multiplier = nan }, "multiplier"},
		{"NaN jitter", func(b *kitresolver.Backoff) { b.Jitter = nan }, "jitter"},
		{"-Inf jitter", func(b *kitresolver.Backoff) { b.Jitter = math.Inf(-1) }, "jitter"},
		{"+Inf multiplier", func(b *kitresolver.Backoff) { b.Multiplier = math.Inf(1) }, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := good
			tt.mutate(&b)
			cfg := newConfig([]Option{WithBackoff(b)})
			err := cfg.validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("validate() = %v; want nil", err)
				}
				if d := b.Delay(3); d <= 0 || d > time.Duration(float64(b.Max)*(1+b.Jitter)) {
					t.Fatalf("Delay(3) = %v with %+v", d, b)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), "etcd: ") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("validate() = %v; want an etcd: error naming the %s", err, tt.wantErr)
			}
		})
	}
}
