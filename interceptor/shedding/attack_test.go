package shedding

import (
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLimiterCeilingLateReaders: goroutines whose clock reading is late
// (they read the time, then were descheduled) never make the limiter admit
// more than the ceiling over the span up to the latest time read.
func TestLimiterCeilingLateReaders(t *testing.T) {
	l, c, p := newFake()
	overload(l, c, p)
	interval := l.interval.Load()
	tol := l.tolerance[Critical+1].Load()
	start := l.tat.Load() // the schedule may already run ahead of the clock
	begin := c.now()
	const span = int64(50 * time.Millisecond)
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 4000 {
				now := begin + span*int64(i)/4000
				if g%2 == 1 { // a late reader: up to 30 ms behind
					now -= int64(i%7) * int64(5*time.Millisecond)
				}
				if l.admit(now, Criticality(g%3-1)) {
					admitted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	end := begin + span
	ceiling := (end-min(start, begin)+tol)/interval + 1
	if got := admitted.Load(); got > ceiling {
		t.Fatalf("admitted %d by %v at one per %v with tolerance %v; ceiling %d",
			got, time.Duration(end-begin), time.Duration(interval), time.Duration(tol), ceiling)
	}
	if tat := l.tat.Load(); tat-end > tol+interval {
		t.Fatalf("the schedule runs %v ahead of the latest time, more than the tolerance %v", time.Duration(tat-end), time.Duration(tol))
	}
}

// TestEstimatorExtremes: zero, huge and overflowed observations never make
// the estimate negative, NaN or infinite, nor the interval 0 while limiting.
func TestEstimatorExtremes(t *testing.T) {
	ws := []window{
		{length: 1, done: math.MaxInt64, timed: 1, sum: math.MaxInt64, queue: math.MaxInt64, cpu: math.MaxInt64},
		{length: math.MaxInt64, done: 1, timed: 1, sum: -5, queue: math.MaxInt64},
		{length: windowLength, done: 0, queue: math.MaxInt64, cpu: 1},
		{length: windowLength, done: 1000, timed: 1000, sum: 0, queue: time.Second},
		{length: windowLength, done: 1000, timed: 1000, sum: math.MinInt64, queue: time.Second, shed: math.MaxInt64},
		{length: -1, done: -1, timed: -1, sum: -1, queue: -1, cpu: -1},
		{length: windowLength, shed: 5},
	}
	for i := range 3000 { // long enough for any growth to overflow
		var e estimator
		e.procs = 1
		for j := range 50 {
			w := ws[(i+j*(i%5+1))%len(ws)]
			est := e.next(w)
			if math.IsNaN(est.rate) || math.IsInf(est.rate, 0) || est.rate < 0 || est.target < 0 || est.latency < 0 {
				t.Fatalf("sequence %d step %d (%+v): estimate %+v", i, j, w, est)
			}
			l, _, _ := newFake()
			l.apply(est, 0)
			if est.rate > 0 && l.interval.Load() <= 0 {
				t.Fatalf("rate %v gives interval %d", est.rate, l.interval.Load())
			}
			for c := range 3 {
				if l.tolerance[c].Load() < 0 {
					t.Fatalf("negative tolerance %d for %+v", l.tolerance[c].Load(), est)
				}
			}
		}
	}
}
