package ratelimit

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/time/rate"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// step is one request of a step table: at offset at from t0, a request under
// key waiting at most maxWait gets delay and ok.
type step struct {
	At      time.Duration
	Key     string
	MaxWait time.Duration
	Delay   time.Duration
	OK      bool
}

func runSteps(t *testing.T, clock *FakeClock, l Limiter, steps []step) {
	t.Helper()
	var got []step
	for _, s := range steps {
		clock.Advance(t0.Add(s.At).Sub(clock.Now()))
		d, ok := l.Reserve(s.Key, s.MaxWait)
		got = append(got, step{At: s.At, Key: s.Key, MaxWait: s.MaxWait, Delay: d, OK: ok})
	}
	if diff := cmp.Diff(steps, got); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
}

func TestTokenBucketSteps(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name  string
		rate  rate.Limit
		burst int
		steps []step
	}{{
		name: "burst then refill", rate: 10, burst: 2,
		steps: []step{
			{At: 0, OK: true},
			{At: 0, OK: true},
			{At: 0, Delay: 100 * ms},
			{At: 40 * ms, Delay: 60 * ms},
			{At: 100 * ms, OK: true},
			{At: 100 * ms, Delay: 100 * ms},
			{At: 10 * time.Second, OK: true},
			{At: 10 * time.Second, OK: true},
			{At: 10 * time.Second, Delay: 100 * ms},
		},
	}, {
		name: "keys are independent", rate: 1, burst: 1,
		steps: []step{
			{Key: "a", OK: true},
			{Key: "a", Delay: time.Second},
			{Key: "b", OK: true},
			{Key: "", OK: true},
			{Key: "b", Delay: time.Second},
			{At: time.Second, Key: "a", OK: true},
		},
	}, {
		name: "wait books future tokens within maxWait only", rate: 10, burst: 1,
		steps: []step{
			{At: 0, OK: true},
			{At: 0, MaxWait: 250 * ms, Delay: 100 * ms, OK: true},
			{At: 0, MaxWait: 250 * ms, Delay: 200 * ms, OK: true},
			{At: 0, MaxWait: 250 * ms, Delay: 300 * ms},
			{At: 0, MaxWait: 300 * ms, Delay: 300 * ms, OK: true},
			{At: 300 * ms, Delay: 100 * ms},
			{At: 400 * ms, OK: true},
		},
	}, {
		name: "infinite rate admits everything", rate: rate.Inf, burst: 0,
		steps: []step{{OK: true}, {OK: true}, {Key: "k", OK: true}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := NewFakeClock(t0)
			tb, err := NewTokenBucket(tt.rate, tt.burst, WithClock(clock))
			if err != nil {
				t.Fatal(err)
			}
			runSteps(t, clock, tb, tt.steps)
		})
	}
}

func TestTokenBucketRefusesConfigs(t *testing.T) {
	tests := []struct {
		rate  rate.Limit
		burst int
	}{
		{rate: 100, burst: 0},
		{rate: 0, burst: 10},
		{rate: 0, burst: 0},
		{rate: -1, burst: 10},
		{rate: 10, burst: -1},
		{rate: rate.Limit(math.NaN()), burst: 1},
	}
	for _, tt := range tests {
		tb, err := NewTokenBucket(tt.rate, tt.burst)
		if !errors.Is(err, ErrInvalidConfig) || tb != nil {
			t.Errorf("NewTokenBucket(%v, %d) = %v, %v; want nil, ErrInvalidConfig", tt.rate, tt.burst, tb, err)
		}
	}
	for _, ok := range []struct {
		rate  rate.Limit
		burst int
	}{{rate: rate.Inf, burst: 0}, {rate: 0.001, burst: 1}, {rate: 1e9, burst: 1 << 30}} {
		if _, err := NewTokenBucket(ok.rate, ok.burst); err != nil {
			t.Errorf("NewTokenBucket(%v, %d): %v", ok.rate, ok.burst, err)
		}
	}
}
