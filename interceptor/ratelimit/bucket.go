package ratelimit

import (
	"math"
	"sync"
	"time"
)

// bucket is the token bucket of one key. It follows golang.org/x/time/rate's
// Limiter step for step (the same float64 token count, refilled by
// elapsed.Seconds()×rate, capped at burst, the same truncation of a wait to
// whole nanoseconds), so it admits exactly what a rate.Limiter would, but it keeps time as int64 ticks and leaves rate and
// burst to its owner, so the hot path does no time.Time arithmetic.
// TestBucketMatchesRateLimiter holds it to that.
//
// One difference: callers read the clock before they take the mutex, so a
// request may arrive with a tick older than the bucket's last. rate.Limiter
// then moves its last refill back and credits the time in between a second
// time; the bucket instead counts such a late request as arriving at its
// last tick, and its delay runs from then. The caller gets the answer after
// that tick (another request saw it before), so waiting the delay from then
// on is never too short.
//
// The padding gives the bucket a cache line of its own in the store's entry:
// every request writes it, and without the padding those writes would evict
// the entry's key, which lookups on other cores read, from their caches.
type bucket struct {
	mu     sync.Mutex
	tokens float64 // guarded by mu
	last   int64   // tick of the last refill; never moves back; guarded by mu
	_      [64 - 24]byte
}

// bucketConfig is the rate and burst shared by the buckets of a TokenBucket,
// for a finite rate.
type bucketConfig struct {
	rate  float64 // tokens per second
	burst float64
}

// fill makes b a full bucket at tick now, as rate.NewLimiter makes one: burst
// tokens, exactly, whatever the rate.
func (b *bucket) fill(now int64, burst float64) {
	b.tokens, b.last = burst, now
}

// take asks for one token at tick now, waiting at most maxWait. When ok, the
// token is taken and the caller must wait delay first; the request acts at
// tick at. When not ok, nothing is taken and delay is how long until a token
// is free.
//
// It decides as TokenBucket used to with a rate.Limiter: AllowN(now, 1); if
// that fails, refuse when the token is further than maxWait away, else
// ReserveN(now, 1). Under the mutex those steps cannot interleave with
// another request's.
func (b *bucket) take(now int64, maxWait time.Duration, c bucketConfig) (delay time.Duration, at int64, ok bool) {
	b.mu.Lock()
	now = max(now, b.last)
	tokens := b.advanceLocked(now, c) - 1
	wait := waitFor(-tokens, c.rate)
	if wait > 0 {
		// Refused for now; the delay is rounded up, so that a retry after
		// it finds a whole token.
		if retry := retryAfter(-tokens, c.rate); retry > maxWait {
			b.mu.Unlock()
			return retry, 0, false
		}
	}
	b.tokens, b.last = tokens, now
	b.mu.Unlock()
	return wait, now + int64(wait), true
}

// cancel gives back the token of a request that take admitted to act at
// tick at, at tick now, unless at has passed.
//
// Unlike rate.Reservation.Cancel it gives the whole token back even when
// requests admitted after it were scheduled behind it: abandoned waits end
// in any order (those with the same timeout end in the order they booked,
// the worst one for rate's rule, which would give back nothing but the last
// of them), and each must leave no debt behind. The state is then the one
// the bucket would have had without the request; the requests already
// scheduled keep their times.
func (b *bucket) cancel(now, at int64, c bucketConfig) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now = max(now, b.last)
	if at < now {
		return
	}
	b.tokens = min(b.advanceLocked(now, c)+1, c.burst)
	b.last = now
}

// full reports whether b holds burst tokens at tick now, as a fresh bucket
// does: no token taken or booked since it last refilled.
func (b *bucket) full(now int64, c bucketConfig) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.advanceLocked(now, c) >= c.burst
}

// advanceLocked is rate.Limiter.advance: the tokens at tick now, not stored.
// A now before the last refill counts as no time elapsed.
func (b *bucket) advanceLocked(now int64, c bucketConfig) float64 {
	last := min(b.last, now)
	tokens := b.tokens + time.Duration(now-last).Seconds()*c.rate
	return min(tokens, c.burst)
}

// waitFor is rate.Limit.durationFromTokens: the time missing tokens take to
// refill, truncated to nanoseconds; 0 if none are missing.
func waitFor(missing, rate float64) time.Duration {
	if missing <= 0 {
		return 0
	}
	d := missing / rate * float64(time.Second)
	if d > math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(d)
}

// retryAfter is waitFor rounded up instead of down.
func retryAfter(missing, rate float64) time.Duration {
	d := math.Ceil(missing / rate * float64(time.Second))
	if d >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(d)
}
