package ratelimit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// stressFor is how long each stress case runs, on the real clock.
const stressFor = time.Second

// stressKey is what a stress test measures of one key.
type stressKey struct {
	admitted atomic.Int64 // requests that went ahead (after their wait)
	spent    atomic.Int64 // given up once their turn had come: room used, not returned
	last     atomic.Int64 // ns since the start of the latest attempt
	idle     atomic.Int64 // ns of the silences between attempts longer than theta
}

// attempt notes an attempt at ns since the start. A silence on the key
// longer than theta counts as idle: the limiter may have lost room in it.
func (k *stressKey) attempt(ns, theta int64) {
	if gap := ns - k.last.Swap(ns); gap > theta {
		k.idle.Add(gap)
	}
}

// recorder is a caller's view of a Canceler: whether the caller's last
// cancellation came too late to give the room back.
type recorder struct {
	Canceler
	late bool
}

func (r *recorder) Cancel(key string, at time.Time) {
	r.Canceler.Cancel(key, at)
	// Read after the limiter did: a cancellation that gave the room back
	// may count as late, never the other way round.
	r.late = !SystemClock.Now().Before(at)
}

// stressLimiter is one limiter under stress and its theory.
type stressLimiter struct {
	name string
	make func() Limiter
	// theta is the longest silence on a key, hammered until then, that
	// costs it no room.
	theta time.Duration
	// ceiling is the most a key may admit between start and end, and floor
	// the least it must when it was asked continuously for busy.
	ceiling func(start, end time.Time) float64
	floor   func(busy time.Duration) float64
}

// TestStressAdmittedWithinTheory hammers both limiters from many goroutines,
// on one key and on many, rejecting, waiting, and waiting with callers that
// give up, for a bounded time on the real clock. Every key must admit no
// more than the theoretical ceiling over the time measured (a token bucket:
// burst + rate×elapsed, +1; a sliding window: limit × the fixed windows the
// run touched), and in all at least 95 % of what the time it was actually
// asked allows (rate×time; (limit-1) per window length): a silence on a key longer than theta (the limiter may lose
// room in it) is taken off that time, so a loaded machine that stalls the
// goroutines lowers the floor instead of failing the test.
func TestStressAdmittedWithinTheory(t *testing.T) {
	const (
		manyKeys = 32
		window   = 100 * time.Millisecond
	)
	limiters := func(keys int) []stressLimiter {
		// The rates are per key: the total stays the same.
		r, burst := 4000.0/float64(keys), 10
		limit := max(400/keys, 4) // per window of 100ms
		return []stressLimiter{{
			name: "token bucket",
			make: func() Limiter {
				tb, err := NewTokenBucket(rate.Limit(r), burst)
				if err != nil {
					t.Fatal(err)
				}
				return tb
			},
			theta: time.Duration(float64(burst-1) / r * 1e9),
			ceiling: func(start, end time.Time) float64 {
				return float64(burst) + r*end.Sub(start).Seconds() + 1
			},
			floor: func(busy time.Duration) float64 { return r * busy.Seconds() },
		}, {
			name: "sliding window",
			make: func() Limiter {
				sw, err := NewSlidingWindow(limit, window)
				if err != nil {
					t.Fatal(err)
				}
				return sw
			},
			theta: window / time.Duration(limit),
			ceiling: func(start, end time.Time) float64 {
				w := int64(window)
				return float64(limit) * float64(end.UnixNano()/w-start.UnixNano()/w+1)
			},
			// Hammered, a window admits limit-1 once the one before it
			// was full: the estimate has room for the last one only as
			// the window ends.
			floor: func(busy time.Duration) float64 { return float64(limit-1) * float64(busy) / float64(window) },
		}}
	}
	// Waiting callers must outnumber what the limiters book ahead (about
	// 4000/s × maxWait), so that some always ask: a key the callers leave
	// alone admits less because nobody asks, which says nothing of the
	// limiter.
	modes := []struct {
		name       string
		goroutines int
		maxWait    time.Duration
		giveUp     bool // half the callers give up during their wait
	}{
		{"reject", 8, 0, false},
		{"wait", 64, 5 * time.Millisecond, false},
		{"wait, callers give up", 64, 5 * time.Millisecond, true},
	}
	for _, keys := range []int{1, manyKeys} {
		for _, sl := range limiters(keys) {
			for _, m := range modes {
				t.Run(fmt.Sprintf("%s/keys=%d/%s", sl.name, keys, m.name), func(t *testing.T) {
					stress(t, sl, keys, m.goroutines, m.maxWait, m.giveUp)
				})
			}
		}
	}
}

func stress(t *testing.T, sl stressLimiter, keys, goroutines int, maxWait time.Duration, giveUp bool) {
	l := sl.make()
	g := newGate(l, []Option{WithWait(maxWait)}, false)
	names := make([]string, keys)
	stats := make([]stressKey, keys)
	for i := range names {
		names[i] = "key-" + strconv.Itoa(i)
	}
	theta := int64(sl.theta)
	start := SystemClock.Now()
	deadline := start.Add(stressFor)
	var wg sync.WaitGroup
	for gr := range goroutines {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(gr), 7))
			rec := &recorder{Canceler: l.(Canceler)}
			for {
				now := SystemClock.Now()
				if !now.Before(deadline) {
					return
				}
				i := rng.IntN(keys)
				stats[i].attempt(int64(now.Sub(start)), theta)
				ctx, cancel := context.WithCancel(context.Background())
				if giveUp && rng.IntN(2) == 0 {
					// Gives up at a random moment of its wait, if it waits.
					time.AfterFunc(time.Duration(rng.Int64N(int64(maxWait))), cancel)
				}
				rec.late = false
				if _, err := g.admit(ctx, rec, names[i], "/stress"); err == nil {
					stats[i].admitted.Add(1)
				} else if rec.late {
					stats[i].spent.Add(1)
				}
				cancel()
			}
		})
	}
	wg.Wait()
	end := SystemClock.Now()
	elapsed := end.Sub(start)
	var admitted, spent, floor float64
	var idle time.Duration
	for i := range stats {
		k := &stats[i]
		// The silence after the last attempt counts too.
		k.attempt(int64(elapsed), theta)
		n := float64(k.admitted.Load())
		if ceiling := sl.ceiling(start, end); n > ceiling {
			t.Errorf("key %d admitted %v in %v, over the ceiling %.0f", i, n, elapsed, ceiling)
		}
		busy := max(elapsed-time.Duration(k.idle.Load()), 0)
		admitted += n
		spent += float64(k.spent.Load())
		floor += sl.floor(busy)
		idle += time.Duration(k.idle.Load())
	}
	t.Logf("admitted %.0f in %v, and %.0f gave up too late; floor %.0f (keys idle %v in all)", admitted, elapsed, spent, floor, idle)
	if idle > elapsed*time.Duration(len(stats))/2 {
		t.Logf("the keys were idle more than half the time: the machine is too loaded to judge the floor")
		return
	}
	// A caller that gave up when its turn had come (its timer and its
	// context ending together, on a loaded machine) used its room.
	if admitted+spent < 0.95*floor {
		t.Errorf("admitted %.0f in %v (and %.0f gave up too late), under 95%% of the %.0f the time the keys were asked allows", admitted, elapsed, spent, floor)
	}
}
