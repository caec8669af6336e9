package ratelimit

import (
	"math"
	"sync"
	"time"
)

// bucket is the token bucket of one key. It follows golang.org/x/time/rate's
// Limiter step for step (the same float64 token count, refilled by
// elapsed.Seconds()×rate, capped at burst, and the same truncation of a wait
// to whole nanoseconds), so it admits exactly what a rate.Limiter would, but
// it keeps time as int64 ticks and leaves rate and burst to its owner, so
// the hot path does no time.Time arithmetic. TestBucketMatchesRateLimiter
// holds it to that.
//
// The padding gives the bucket a cache line of its own in the store's entry:
// every request writes it, and without the padding those writes would evict
// the entry's key, which lookups on other cores read, from their caches.
type bucket struct {
	mu     sync.Mutex
	tokens float64 // guarded by mu
	last   int64   // tick of the last booking; guarded by mu
	_      [64 - 24]byte
}

// bucketConfig is the rate and burst shared by the buckets of a TokenBucket,
// for a finite rate.
type bucketConfig struct {
	rate  float64 // tokens per second
	burst float64
}

// fill makes b a full bucket at tick now the way a new rate.Limiter set up at
// a time refill ago would be: empty then, with time to fill up since.
func (b *bucket) fill(now int64, refill time.Duration) {
	b.tokens = 0
	b.last = now - int64(refill)
}

// take asks for one token at tick now, waiting at most maxWait. When ok, the
// token is taken and the caller must wait delay first; when not, nothing is
// taken and delay is how long until a token is free.
//
// It decides as TokenBucket used to with a rate.Limiter: AllowN(now, 1); if
// that fails, refuse when the token is further than maxWait away, else
// ReserveN(now, 1). Under the mutex those steps cannot interleave with
// another request's.
func (b *bucket) take(now int64, maxWait time.Duration, c bucketConfig) (time.Duration, bool) {
	b.mu.Lock()
	tokens := b.advanceLocked(now, c) - 1
	wait := waitFor(-tokens, c.rate)
	if wait > 0 {
		// Refused for now; the delay is rounded up, so that a retry after
		// it finds a whole token.
		if retry := retryAfter(-tokens, c.rate); retry > maxWait {
			b.mu.Unlock()
			return retry, false
		}
	}
	b.tokens, b.last = tokens, now
	b.mu.Unlock()
	return wait, true
}

// full reports whether b holds burst tokens at tick now, as a fresh bucket
// does: no token taken or booked since it last refilled.
func (b *bucket) full(now int64, c bucketConfig) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.advanceLocked(now, c) >= c.burst
}

// advanceLocked is rate.Limiter.advance: the tokens at tick now, not stored.
// A now before the last booking counts as no time elapsed.
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
