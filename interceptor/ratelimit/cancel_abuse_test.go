package ratelimit

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// abuseLimiter is a Canceler under test with the ceiling it must keep:
// within(acts) reports whether the times at which one key's admitted,
// never cancelled requests act stay within the limiter's promise.
type abuseLimiter struct {
	name   string
	make   func(c Clock) Canceler
	within func(start time.Time, acts []time.Time) (string, bool)
}

const (
	abuseRate  = 10 // tokens per second
	abuseBurst = 3
	abuseLimit = 5 // per window
	abuseWin   = 500 * time.Millisecond
)

func abuseLimiters() []abuseLimiter {
	return []abuseLimiter{{
		name: "TokenBucket",
		make: func(c Clock) Canceler {
			tb, err := NewTokenBucket(abuseRate, abuseBurst, WithClock(c))
			if err != nil {
				panic(err)
			}
			return tb
		},
		// By every time T, at most burst + rate×(T−start) requests acted
		// (+1 for rounding a wait to whole nanoseconds).
		within: func(start time.Time, acts []time.Time) (string, bool) {
			acts = slices.SortedFunc(slices.Values(acts), time.Time.Compare)
			for i, at := range acts {
				ceil := abuseBurst + abuseRate*at.Sub(start).Seconds() + 1
				if float64(i+1) > ceil {
					return "by " + at.Sub(start).String() + ": " + strconv.Itoa(i+1) + " acted, ceiling " + strconv.FormatFloat(ceil, 'f', 2, 64), false
				}
			}
			return "", true
		},
	}, {
		name: "SlidingWindow",
		make: func(c Clock) Canceler {
			sw, err := NewSlidingWindow(abuseLimit, abuseWin, WithClock(c))
			if err != nil {
				panic(err)
			}
			return sw
		},
		// No fixed window counts more than limit requests acting in it.
		within: func(_ time.Time, acts []time.Time) (string, bool) {
			per := map[int64]int{}
			for _, at := range acts {
				i := at.UnixNano() / int64(abuseWin)
				if per[i]++; per[i] > abuseLimit {
					return "window " + strconv.FormatInt(i, 10) + ": more than the limit acted", false
				}
			}
			return "", true
		},
	}}
}

// openBooking is an admission still open to cancelling.
type openBooking struct {
	key string
	at  time.Time
}

// TestCancelAbuseKeepsTheCeiling: over a long run on a fake clock, requests
// that book a slot and cancel it (at once, later, after their time, or never)
// interleaved with plain admissions under several keys never get a key past
// its ceiling, checked after every step. Cancel is called once per admission,
// as the interceptors do.
func TestCancelAbuseKeepsTheCeiling(t *testing.T) {
	for _, al := range abuseLimiters() {
		t.Run(al.name, func(t *testing.T) {
			clock := NewFakeClock(t0)
			l := al.make(clock)
			rng := rand.New(rand.NewPCG(7, 11))
			acts := map[string][]time.Time{}
			var open []openBooking
			drop := func(b openBooking) {
				a := acts[b.key]
				i := slices.IndexFunc(a, func(x time.Time) bool { return x.Equal(b.at) })
				acts[b.key] = slices.Delete(a, i, i+1)
			}
			for step := range 6000 {
				key := strconv.Itoa(rng.IntN(3))
				switch op := rng.IntN(10); {
				case op < 4: // book ahead
					at, _, ok := l.ReserveAt(key, time.Duration(rng.Int64N(int64(2*time.Second))))
					if ok {
						acts[key] = append(acts[key], at)
						open = append(open, openBooking{key, at})
					}
				case op < 7 && len(open) > 0: // cancel one, any of them
					i := rng.IntN(len(open))
					b := open[i]
					open = slices.Delete(open, i, i+1)
					if !b.at.Before(clock.Now()) {
						drop(b) // it will not act
					}
					l.Cancel(b.key, b.at)
				case op < 9: // admit now
					if at, _, ok := l.ReserveAt(key, 0); ok {
						acts[key] = append(acts[key], at)
					}
				default:
					clock.Advance(time.Duration(rng.Int64N(int64(100 * time.Millisecond))))
				}
				for k, a := range acts {
					if why, ok := al.within(t0, a); !ok {
						t.Fatalf("step %d, key %s: %s", step, k, why)
					}
				}
			}
			if n := len(acts["0"]); n < 100 {
				t.Fatalf("only %d requests admitted under one key", n)
			}
		})
	}
}

// TestCancelAbuseConcurrent is TestCancelAbuseKeepsTheCeiling with
// goroutines openBooking, cancelling and admitting at once under shared keys
// while the clock moves, checked when they are done.
func TestCancelAbuseConcurrent(t *testing.T) {
	for _, al := range abuseLimiters() {
		t.Run(al.name, func(t *testing.T) {
			clock := NewFakeClock(t0)
			l := al.make(clock)
			var mu sync.Mutex
			acts := map[string][]time.Time{}
			var wg sync.WaitGroup
			for g := range 6 {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(g), 1))
					for range 2000 {
						key := strconv.Itoa(rng.IntN(2))
						at, _, ok := l.ReserveAt(key, time.Duration(rng.Int64N(int64(time.Second))))
						if !ok {
							continue
						}
						// Cancel only what cannot have acted yet: the time
						// check and Cancel race the clock otherwise.
						if rng.IntN(2) == 0 && at.Sub(clock.Now()) > 200*time.Millisecond {
							l.Cancel(key, at)
							continue
						}
						mu.Lock()
						acts[key] = append(acts[key], at)
						mu.Unlock()
					}
				})
			}
			wg.Go(func() {
				for range 500 {
					clock.Advance(time.Millisecond)
				}
			})
			wg.Wait()
			for k, a := range acts {
				if why, ok := al.within(t0, a); !ok {
					t.Fatalf("key %s: %s", k, why)
				}
			}
		})
	}
}

// TestCancelEdges: a cancel after the openBooking's time gives nothing back;
// a cancel of a key the limiter forgot neither creates it nor gives a
// token the key never lent.
func TestCancelEdges(t *testing.T) {
	for _, al := range abuseLimiters() {
		t.Run(al.name, func(t *testing.T) {
			clock := NewFakeClock(t0)
			l := al.make(clock)
			twin := al.make(clock)
			drain := func(l Canceler) int {
				n := 0
				for {
					if _, ok := l.Reserve("k", 0); !ok {
						return n
					}
					n++
				}
			}
			drain(l)
			drain(twin)
			at, d, ok := l.ReserveAt("k", 10*time.Second)
			twin.Reserve("k", 10*time.Second)
			if !ok || d <= 0 {
				t.Fatalf("openBooking ahead: %v, %v", d, ok)
			}
			clock.Advance(d + time.Nanosecond)
			l.Cancel("k", at) // too late: it acted
			if a, b := drain(l), drain(twin); a != b {
				t.Fatalf("a cancel after the openBooking's time admitted %d more, want %d", a, b)
			}
			l.Cancel("never-seen", clock.Now().Add(time.Second))
			if _, ok := l.(interface{ Len() int }); ok && l.(interface{ Len() int }).Len() != 1 {
				t.Fatalf("a cancel of an unknown key made state for it: %d keys", l.(interface{ Len() int }).Len())
			}
		})
	}
}
