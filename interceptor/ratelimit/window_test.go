package ratelimit

import (
	"errors"
	"math/rand/v2"
	"strconv"
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
			// next holds 1: room when 2×(1−t) ≤ 0, at its end: the request
			// acts in its last nanosecond, in the window that counts it.
			{At: 500 * ms, MaxWait: 2 * time.Second, Delay: 1500*ms - 1, OK: true},
			{At: 500 * ms, MaxWait: time.Hour, Delay: 1500 * ms},
			// the booked requests fill the window that has begun; the one
			// after has room when 2×(1−t) ≤ 1.
			{At: 1000 * ms, Delay: 1500 * ms},
		},
	}, {
		name: "a late reader never moves the key back", limit: 2, window: time.Second,
		steps: []step{
			{At: 1000 * ms, OK: true},
			{At: 1000 * ms, OK: true},
			// read the clock before the window began, got the lock after:
			// counted at the start of the key's window, which is full.
			{At: 999 * ms, Delay: 1500 * ms},
			{At: 1000 * ms, Delay: 1500 * ms},
			{At: 2499 * ms, Delay: time.Millisecond},
			{At: 2500 * ms, OK: true},
			{At: 1999 * ms, Delay: time.Second},
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

// TestCounterAtRestNeverMovesBack: the store asks whether a key is at rest
// with the tick of the insert that came by, which may be older than the
// key's latest request. That must neither move the key back nor forget
// what it counted.
func TestCounterAtRestNeverMovesBack(t *testing.T) {
	clock := NewFakeClock(t0)
	sw, err := NewSlidingWindow(2, time.Second, WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if !sw.Allow("k") {
			t.Fatal("request refused in an empty window")
		}
	}
	c := sw.keys.peek("k")
	if sw.counterAtRest(c, t0.Add(-time.Millisecond).UnixNano()) {
		t.Error("a key that counted 2 requests is at rest at an earlier tick")
	}
	if sw.Allow("k") {
		t.Error("a full window admitted a request after a late rest check")
	}
}

// TestSlidingWindowCancel: a request booked and cancelled before it acts
// leaves the key as if it had never asked, whatever windows began in
// between, checked against a second window that is never asked.
func TestSlidingWindowCancel(t *testing.T) {
	const w = time.Second
	clock := NewFakeClock(t0)
	a, err := NewSlidingWindow(3, w, WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSlidingWindow(3, w, WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 5))
	cancelled := 0
	for i := range 20_000 {
		clock.Advance(time.Duration(rng.Int64N(int64(w / 3))))
		key := strconv.Itoa(rng.IntN(3))
		if rng.IntN(3) > 0 {
			maxWait := time.Duration(rng.Int64N(int64(2 * w)))
			da, oka := a.Reserve(key, maxWait)
			db, okb := b.Reserve(key, maxWait)
			if da != db || oka != okb {
				t.Fatalf("step %d: Reserve = %v, %v; never cancelling gives %v, %v", i, da, oka, db, okb)
			}
			continue
		}
		at, d, ok := a.ReserveAt(key, 2*w)
		if !ok {
			continue
		}
		if d > 0 {
			clock.Advance(time.Duration(rng.Int64N(int64(d) + 1)))
		}
		a.Cancel(key, at)
		cancelled++
		if ca, cb := counterAt(a, key), counterAt(b, key); ca != cb {
			t.Fatalf("step %d: after a cancelled booking the key counts %+v; never asked it counts %+v", i, ca, cb)
		}
	}
	if cancelled < 1000 {
		t.Errorf("only %d bookings cancelled", cancelled)
	}
}

// counterAt is the counter of key in sw, moved to the clock's time.
func counterAt(sw *SlidingWindow, key string) [4]int64 {
	c := sw.keys.get(key, sw.clock.Now().UnixNano())
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rollLocked(sw.clock.Now().UnixNano(), int64(sw.window))
	return [4]int64{c.index, c.prev, c.cur, c.next}
}
