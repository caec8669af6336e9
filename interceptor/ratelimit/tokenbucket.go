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

// TokenBucket is a Limiter with one token bucket per key, with the semantics
// of golang.org/x/time/rate: each bucket holds up to burst tokens, refills at
// rate tokens per second, and a request takes one token; it admits exactly
// what a rate.Limiter per key would. Keys live in a sharded store with a
// memory bound (see WithMaxKeys and WithIdleTimeout); a rate of rate.Inf
// admits everything and keeps no per-key state.
//
// A TokenBucket is safe for concurrent use. Its zero value is not usable;
// make one with NewTokenBucket.
type TokenBucket struct {
	rate   rate.Limit
	burst  int
	cfg    bucketConfig
	refill time.Duration // how long an empty bucket takes to fill up
	clock  Clock
	// Time is kept as nanoseconds since epoch. With the system clock,
	// time.Since(epoch) reads it without building a time.Time.
	epoch  time.Time
	system bool
	keys   *store[bucket]
}

// NewTokenBucket returns a token bucket per key with the given rate (tokens
// per second; rate.Inf admits everything) and burst. It refuses a negative or
// NaN rate, a zero rate, a negative burst and a burst of 0 with a finite rate:
// each could never admit a request, or only a few ever.
func NewTokenBucket(r rate.Limit, burst int, opts ...LimiterOption) (*TokenBucket, error) {
	if err := checkTokenBucket(r, burst); err != nil {
		return nil, err
	}
	lo, err := evalLimiterOptions(opts)
	if err != nil {
		return nil, err
	}
	refill := refillTime(r, burst)
	if lo.idle == 0 {
		lo.idle = max(refill, time.Second)
	}
	_, system := lo.clock.(systemClock)
	tb := &TokenBucket{
		rate:   r,
		burst:  burst,
		cfg:    bucketConfig{rate: float64(r), burst: float64(burst)},
		refill: refill,
		clock:  lo.clock,
		epoch:  lo.clock.Now(),
		system: system,
	}
	tb.keys = newStore(lo.maxKeys, lo.idle, tb.initBucket, tb.bucketAtRest)
	registerKeyMetrics(lo.meterProvider, tb)
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

// initBucket makes b a full bucket at tick now without allocating.
func (tb *TokenBucket) initBucket(b *bucket, now int64) { b.fill(now, tb.cfg.burst) }

func (tb *TokenBucket) bucketAtRest(b *bucket, now int64) bool { return b.full(now, tb.cfg) }

// now returns the clock's time in ticks: nanoseconds since tb.epoch.
func (tb *TokenBucket) now() int64 {
	if tb.system {
		return int64(time.Since(tb.epoch))
	}
	return int64(tb.clock.Now().Sub(tb.epoch))
}

// Rate returns the refill rate in tokens per second.
func (tb *TokenBucket) Rate() rate.Limit { return tb.rate }

// Burst returns the bucket size.
func (tb *TokenBucket) Burst() int { return tb.burst }

// Allow reports whether a request under key may go ahead now, taking a token
// if so. It does not allocate once the key exists.
func (tb *TokenBucket) Allow(key string) bool {
	_, ok := tb.Reserve(key, 0)
	return ok
}

// Reserve implements Limiter.
func (tb *TokenBucket) Reserve(key string, maxWait time.Duration) (time.Duration, bool) {
	if tb.rate == rate.Inf {
		return 0, true
	}
	now := tb.now()
	d, _, ok := tb.keys.get(key, now).take(now, maxWait, tb.cfg)
	return d, ok
}

// ReserveAt implements Canceler.
func (tb *TokenBucket) ReserveAt(key string, maxWait time.Duration) (time.Time, time.Duration, bool) {
	now := tb.now()
	if tb.rate == rate.Inf {
		return tb.epoch.Add(time.Duration(now)), 0, true
	}
	d, at, ok := tb.keys.get(key, now).take(now, maxWait, tb.cfg)
	return tb.epoch.Add(time.Duration(at)), d, ok
}

// Cancel implements Canceler: unless at has passed, it gives the token back,
// whole even when requests admitted later were scheduled behind it (unlike
// rate.Reservation.Cancel, which then gives back nothing): a wave of
// abandoned waits leaves no debt, in whatever order they end.
//
// The price: the bucket keeps a token count, not the slots booked, so a
// booking cancelled before others frees a slot no later request takes; those
// are booked after the last slot still held, and may act at the same time as
// it. Over any time since the key was made no more than burst + rate×elapsed
// requests act, as with rate, but repeated cancels under a busy key can
// gather up to the requests booked at once (about rate × the wait allowed)
// into one instant.
func (tb *TokenBucket) Cancel(key string, at time.Time) {
	if tb.rate == rate.Inf {
		return
	}
	if b := tb.keys.peek(key); b != nil {
		b.cancel(tb.now(), int64(at.Sub(tb.epoch)), tb.cfg)
	}
}

// Len returns how many keys the bucket holds state for, not counting the
// global key "".
func (tb *TokenBucket) Len() int { return tb.keys.len() }
