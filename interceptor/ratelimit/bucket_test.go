package ratelimit

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// refBucket is the reference the token bucket is held to: a rate.Limiter per
// key, set up and asked the way TokenBucket did before it kept its own state.
// A request whose time is before the latest refill of the key is asked at that
// time instead: rate.Limiter would move its refill back and credit the time
// in between twice.
type refBucket struct {
	rate   rate.Limit
	burst  int
	keys   map[string]*rate.Limiter
	latest map[string]time.Time // the latest refill of the key's Limiter
}

func (rb *refBucket) reserve(key string, now time.Time, maxWait time.Duration) (*rate.Reservation, time.Duration, bool) {
	l := rb.keys[key]
	if l == nil {
		l = rate.NewLimiter(rb.rate, rb.burst)
		rb.keys[key] = l
	}
	if latest := rb.latest[key]; now.Before(latest) {
		now = latest
	}
	if l.AllowN(now, 1) {
		rb.latest[key] = now
		return nil, 0, true
	}
	d := time.Duration(0)
	if missing := 1 - l.TokensAt(now); missing > 0 {
		d = time.Duration(math.Ceil(missing / float64(rb.rate) * 1e9))
	}
	if d > maxWait {
		return nil, d, false
	}
	res := l.ReserveN(now, 1)
	if d = res.DelayFrom(now); d > maxWait {
		res.CancelAt(now)
		return nil, d, false
	}
	rb.latest[key] = now
	return res, d, true
}

// cancel cancels res, admitted to act at at, at now. res is the key's latest
// admission: rate.Reservation.CancelAt then gives the whole token back, as
// TokenBucket.Cancel always does.
func (rb *refBucket) cancel(key string, res *rate.Reservation, at, now time.Time) {
	if latest := rb.latest[key]; now.Before(latest) {
		now = latest
	}
	res.CancelAt(now)
	if !at.Before(now) {
		rb.latest[key] = now
	}
}

// booking is a request admitted to wait, which the test may cancel.
type booking struct {
	at  time.Time
	res *rate.Reservation
}

// TestBucketMatchesRateLimiter drives a TokenBucket and the rate.Limiter
// reference through the same random sequence of requests and cancellations
// of waits on the same virtual clock, and requires the same answer, delay
// included, every time. The steps favour instants on or next to a token
// boundary, where rounding would show, and let the clock step back now and
// then. Only a key's latest admission is cancelled, where rate's
// cancellation gives the token back whole too.
func TestBucketMatchesRateLimiter(t *testing.T) {
	configs := []struct {
		rate  rate.Limit
		burst int
	}{
		{10, 1}, {10, 2}, {3, 5}, {7.5, 10}, {0.7, 1}, {rate.Every(3 * time.Second), 2},
		{123.456, 7}, {1000, 3}, {1e6, 2}, {1e9, 10}, {0.001, 1},
		// the first request of a key is admitted however slow the refill.
		{rate.Every(200 * 365 * 24 * time.Hour), 1},
	}
	totalCancelled := 0
	for _, c := range configs {
		t.Run(fmt.Sprintf("rate=%v/burst=%d", c.rate, c.burst), func(t *testing.T) {
			clock := NewFakeClock(t0)
			// Idle keys are never forgotten here: this clock steps back, which
			// the limiter's clock does not, and a key forgotten when full at
			// one tick is fresh at an earlier one where its old state was
			// not. TestIdleKeyInDebtKeepsItsState tests forgetting.
			tb, err := NewTokenBucket(c.rate, c.burst, WithClock(clock), WithIdleTimeout(math.MaxInt64))
			if err != nil {
				t.Fatal(err)
			}
			ref := &refBucket{rate: c.rate, burst: c.burst, keys: make(map[string]*rate.Limiter), latest: make(map[string]time.Time)}
			rng := rand.New(rand.NewPCG(1, uint64(c.burst)))
			interval := time.Duration(min(1e9/float64(c.rate), float64(time.Hour)))
			admitted, cancelled := 0, 0
			latest := make(map[string]*booking) // the key's latest admission, if it waits
			for i := range 20_000 {
				clock.Advance(randomStep(rng, interval))
				now := clock.Now()
				key := strconv.Itoa(rng.IntN(3))
				if b := latest[key]; b != nil && rng.IntN(3) == 0 {
					ref.cancel(key, b.res, b.at, now)
					tb.Cancel(key, b.at)
					latest[key] = nil
					cancelled++
					continue
				}
				maxWait := time.Duration(0)
				if rng.IntN(4) == 0 {
					maxWait = time.Duration(rng.Int64N(int64(3*interval) + 1))
				}
				res, wantD, wantOK := ref.reserve(key, now, maxWait)
				at, gotD, gotOK := tb.ReserveAt(key, maxWait)
				if gotD != wantD || gotOK != wantOK {
					t.Fatalf("step %d at %v, key %s, maxWait %v: Reserve = %v, %v; rate.Limiter says %v, %v",
						i, now.Sub(t0), key, maxWait, gotD, gotOK, wantD, wantOK)
				}
				if gotOK {
					admitted++
					latest[key] = nil
					if res != nil {
						latest[key] = &booking{at: at, res: res}
					}
				}
			}
			// The sequence must exercise both answers to mean anything.
			if admitted == 0 || admitted == 20_000 {
				t.Errorf("%d of 20000 requests admitted; the sequence tests only one outcome", admitted)
			}
			totalCancelled += cancelled
		})
	}
	if totalCancelled < 1000 {
		t.Errorf("%d waits cancelled in all; the sequences hardly test cancellation", totalCancelled)
	}
}

// randomStep is how far the clock moves before the next request: mostly by
// whole token intervals give or take a nanosecond, sometimes not at all,
// sometimes back.
func randomStep(rng *rand.Rand, interval time.Duration) time.Duration {
	switch rng.IntN(8) {
	case 0:
		return 0
	case 1:
		return -time.Duration(rng.Int64N(int64(interval) + 1))
	case 2:
		return time.Duration(rng.Int64N(int64(2*interval) + 1))
	case 3:
		return time.Duration(rng.IntN(3)) * time.Millisecond
	default:
		return time.Duration(rng.IntN(3))*interval + time.Duration(rng.IntN(3)-1)
	}
}

// TestBucketSystemClockTicks checks that the system clock's fast path reads
// the same time as the Clock interface would.
func TestBucketSystemClockTicks(t *testing.T) {
	tb, err := NewTokenBucket(10, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !tb.system {
		t.Fatal("NewTokenBucket without WithClock does not use the system clock's fast path")
	}
	before := int64(SystemClock.Now().Sub(tb.epoch))
	got := tb.now()
	after := int64(SystemClock.Now().Sub(tb.epoch))
	if got < before || got > after {
		t.Errorf("now() = %d, want between %d and %d", got, before, after)
	}
}
