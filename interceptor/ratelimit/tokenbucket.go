package ratelimit

import (
	"fmt"
	"math"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of the token bucket an interceptor uses when given a nil Limiter.
const (
	DefaultRate  rate.Limit = 100
	DefaultBurst int        = 10
)

// TokenBucket is a Limiter with one golang.org/x/time/rate token bucket per
// key: each bucket holds up to burst tokens, refills at rate tokens per
// second, and a request takes one token. Keys live in a sharded store with a
// memory bound (see WithMaxKeys and WithIdleTimeout).
//
// A TokenBucket is safe for concurrent use. Its zero value is not usable;
// make one with NewTokenBucket.
type TokenBucket struct {
	rate  rate.Limit
	burst int
	clock Clock
	keys  *store[rate.Limiter]
}

// NewTokenBucket returns a token bucket per key with the given rate (tokens
// per second; rate.Inf admits everything) and burst. It refuses a negative or
// NaN rate, a zero rate, a negative burst and a burst of 0 with a finite rate:
// each could never admit a request, or only a few ever.
func NewTokenBucket(r rate.Limit, burst int, opts ...LimiterOption) (*TokenBucket, error) {
	if err := checkTokenBucket(r, burst); err != nil {
		return nil, err
	}
	lo := evalLimiterOptions(opts)
	if lo.idle == 0 {
		lo.idle = max(refillTime(r, burst), time.Second)
	}
	tb := &TokenBucket{rate: r, burst: burst, clock: lo.clock}
	tb.keys = newStore(lo.maxKeys, lo.idle, lo.clock.Now(), tb.initBucket)
	return tb, nil
}

func checkTokenBucket(r rate.Limit, burst int) error {
	switch {
	case math.IsNaN(float64(r)) || r < 0:
		return fmt.Errorf("%w: negative rate %v", ErrInvalidConfig, r)
	case r == 0:
		return fmt.Errorf("%w: a rate of 0 never refills the bucket", ErrInvalidConfig)
	case burst < 0:
		return fmt.Errorf("%w: negative burst %d", ErrInvalidConfig, burst)
	case burst == 0 && r != rate.Inf:
		return fmt.Errorf("%w: burst 0 with the finite rate %v can never admit a request", ErrInvalidConfig, r)
	}
	return nil
}

// refillTime is how long an empty bucket takes to fill up.
func refillTime(r rate.Limit, burst int) time.Duration {
	if r == rate.Inf {
		return 0
	}
	secs := float64(burst) / float64(r)
	if secs > float64(math.MaxInt64/2)/1e9 {
		return math.MaxInt64 / 2
	}
	return time.Duration(secs*1e9) + time.Millisecond
}

// initBucket makes l a full bucket at now without allocating: the bucket is
// set empty at a time long enough ago for it to have filled up since.
func (tb *TokenBucket) initBucket(l *rate.Limiter, now time.Time) {
	then := now.Add(-refillTime(tb.rate, tb.burst))
	l.SetBurstAt(then, tb.burst)
	l.SetLimitAt(then, tb.rate)
}

// Rate returns the refill rate in tokens per second.
func (tb *TokenBucket) Rate() rate.Limit { return tb.rate }

// Burst returns the bucket size.
func (tb *TokenBucket) Burst() int { return tb.burst }

// Allow reports whether a request under key may go ahead now, taking a token
// if so. It does not allocate once the key exists.
func (tb *TokenBucket) Allow(key string) bool {
	now := tb.clock.Now()
	return tb.keys.get(key, now).AllowN(now, 1)
}

// Reserve implements Limiter.
func (tb *TokenBucket) Reserve(key string, maxWait time.Duration) (time.Duration, bool) {
	now := tb.clock.Now()
	l := tb.keys.get(key, now)
	if l.AllowN(now, 1) {
		return 0, true
	}
	d := tb.retryAfter(l, now)
	if d > maxWait {
		return d, false
	}
	// A token comes within maxWait: book it. Another request may have
	// booked one since, so check the delay again.
	res := l.ReserveN(now, 1)
	if d = res.DelayFrom(now); d > maxWait {
		res.CancelAt(now)
		return d, false
	}
	return d, true
}

// retryAfter is how long until l holds a whole token.
func (tb *TokenBucket) retryAfter(l *rate.Limiter, now time.Time) time.Duration {
	missing := 1 - l.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(missing / float64(tb.rate) * 1e9))
}

// Len returns how many keys the bucket holds state for, not counting the
// global key "".
func (tb *TokenBucket) Len() int { return tb.keys.len() }
