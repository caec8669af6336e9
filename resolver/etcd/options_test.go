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

// TestRegisterOptionErrorsNameTheOption: a bad option fails Register before
// the client is used, with an error that names the option and its value, in
// the form package consul uses for the same options.
func TestRegisterOptionErrorsNameTheOption(t *testing.T) {
	inst := kitresolver.Instance{Service: "s", Addr: "127.0.0.1:1"}
	for _, tt := range []struct {
		opt     RegisterOption
		wantErr string
	}{
		{WithTTL(500 * time.Millisecond), "etcd: WithTTL(500ms): below etcd's minimum of 1s"},
		{WithRequestTimeout(0), "etcd: WithRequestTimeout(0s): want > 0"},
		{WithBackoff(kitresolver.Backoff{Base: time.Second}), "etcd: WithBackoff: backoff base 1s and max 0s"},
	} {
		_, err := Register(t.Context(), nil, inst, tt.opt)
		if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
			t.Errorf("Register = %v, want an error starting %q", err, tt.wantErr)
		}
	}
}

// TestNegativeRecoveryGraceIsRefused: a negative grace is a configuration
// error naming the option, reported by NewBuilder's validation.
func TestNegativeRecoveryGraceIsRefused(t *testing.T) {
	err := newConfig([]Option{WithRecoveryGrace(-time.Second)}).validate()
	if want := "etcd: WithRecoveryGrace(-1s): want >= 0"; err == nil || err.Error() != want {
		t.Fatalf("validate() = %v; want %q", err, want)
	}
	if err := newConfig([]Option{WithRecoveryGrace(0)}).validate(); err != nil {
		t.Fatalf("WithRecoveryGrace(0): %v", err)
	}
}
