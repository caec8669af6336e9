package ratelimit

import (
	"errors"
	"testing"
	"time"
)

func TestSlidingWindowSteps(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name   string
		limit  int
		window time.Duration
		steps  []step
	}{{
		name: "limit per window, previous window weighted", limit: 4, window: time.Second,
		steps: []step{
			{At: 0, OK: true},
			{At: 100 * ms, OK: true},
			{At: 200 * ms, OK: true},
			{At: 300 * ms, OK: true},
			// full until the window ends, then the 4 of this window weigh
			// 4×(1−t): room for one more once 4×(1−t) ≤ 3, at t = 250ms.
			{At: 900 * ms, Delay: 350 * ms},
			{At: 1000 * ms, Delay: 250 * ms},
			{At: 1250 * ms, OK: true},
			// estimate 4×0.75 + 1 = 4: the next needs 4×(1−t) ≤ 2, t = 500ms.
			{At: 1250 * ms, Delay: 250 * ms},
			{At: 1500 * ms, OK: true},
			// two windows later the old counts are gone.
			{At: 3000 * ms, OK: true},
			{At: 3000 * ms, OK: true},
		},
	}, {
		name: "keys are independent", limit: 1, window: time.Second,
		steps: []step{
			{Key: "a", OK: true},
			// the estimate assumes the previous window's request was
			// spread over it: its weight reaches 0 at the next one's end.
			{Key: "a", Delay: 2 * time.Second},
			{Key: "b", OK: true},
			{Key: "", OK: true},
		},
	}, {
		name: "wait books in this window and the next, no further", limit: 2, window: time.Second,
		steps: []step{
			{At: 0, OK: true},
			{At: 500 * ms, MaxWait: 100 * ms, OK: true},
			// full: the next window has room when 2×(1−t) ≤ 1, t = 500ms.
			{At: 500 * ms, MaxWait: time.Second, Delay: time.Second, OK: true},
			// next holds 1: room when 2×(1−t) ≤ 0, at its end.
			{At: 500 * ms, MaxWait: 2 * time.Second, Delay: 1500 * ms, OK: true},
			{At: 500 * ms, MaxWait: time.Hour, Delay: 1500 * ms},
			// the booked requests fill the window that has begun; the one
			// after has room when 2×(1−t) ≤ 1.
			{At: 1000 * ms, Delay: 1500 * ms},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := NewFakeClock(t0)
			sw, err := NewSlidingWindow(tt.limit, tt.window, WithClock(clock))
			if err != nil {
				t.Fatal(err)
			}
			runSteps(t, clock, sw, tt.steps)
		})
	}
}

func TestSlidingWindowRefusesConfigs(t *testing.T) {
	tests := []struct {
		limit  int
		window time.Duration
	}{{0, time.Second}, {-1, time.Second}, {10, 0}, {10, -time.Second}}
	for _, tt := range tests {
		sw, err := NewSlidingWindow(tt.limit, tt.window)
		if !errors.Is(err, ErrInvalidConfig) || sw != nil {
			t.Errorf("NewSlidingWindow(%d, %v) = %v, %v; want nil, ErrInvalidConfig", tt.limit, tt.window, sw, err)
		}
	}
}

func TestUntilRoom(t *testing.T) {
	tests := []struct {
		prev, cur, limit, elapsed, w, want int64
	}{
		{prev: 0, cur: 0, limit: 1, elapsed: 0, w: 10, want: 0},
		{prev: 4, cur: 0, limit: 4, elapsed: 0, w: 1000, want: 250},
		{prev: 4, cur: 0, limit: 4, elapsed: 300, w: 1000, want: 0},
		{prev: 4, cur: 1, limit: 4, elapsed: 250, w: 1000, want: 250},
		{prev: 3, cur: 0, limit: 3, elapsed: 0, w: 1000, want: 334},
		{prev: 5, cur: 3, limit: 4, elapsed: 0, w: 1000, want: 1000},
	}
	for _, tt := range tests {
		if got := untilRoom(tt.prev, tt.cur, tt.limit, tt.elapsed, tt.w); got != tt.want {
			t.Errorf("untilRoom(%d, %d, %d, %d, %d) = %d, want %d", tt.prev, tt.cur, tt.limit, tt.elapsed, tt.w, got, tt.want)
		}
	}
}
