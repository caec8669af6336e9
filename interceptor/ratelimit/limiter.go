package ratelimit

import (
	"errors"
	"time"
)

// Limiter decides whether one request under a key may go ahead. Keys come
// from the interceptor's KeyFunc; "" is the global key.
//
// Reserve asks for one request under key now, willing to wait at most
// maxWait (0 for not at all). When ok is true the request is admitted and
// counted, and the caller must wait delay (≤ maxWait) before going on. When
// ok is false nothing is counted, and delay says how long from now a retry
// may succeed; the interceptors send it as the grpc-retry-pushback-ms
// trailer.
//
// Implementations must be safe for concurrent use and should not allocate
// when maxWait is 0. TokenBucket and SlidingWindow implement Limiter.
type Limiter interface {
	Reserve(key string, maxWait time.Duration) (delay time.Duration, ok bool)
}

// Canceler is a Limiter that can give back an admission whose request never
// went ahead, as rate.Reservation.Cancel does. In wait mode the interceptors
// cancel the admission of a request whose context ends while it waits, so
// that a wave of abandoned waits leaves no debt that refuses the requests
// after them. TokenBucket and SlidingWindow implement it.
type Canceler interface {
	Limiter
	// ReserveAt is Reserve that also returns, when ok, the time on the
	// limiter's clock at which the request may go ahead.
	ReserveAt(key string, maxWait time.Duration) (at time.Time, delay time.Duration, ok bool)
	// Cancel gives back the admission of a request under key that
	// ReserveAt admitted to go ahead at at, unless at has passed. The
	// request must not go ahead. Call it at most once per admission: the
	// limiter keeps no record of each one, so a second call would give
	// back the admission of another request under key.
	Cancel(key string, at time.Time)
}

// ErrInvalidConfig is wrapped by every error a constructor returns for a
// configuration it refuses, such as one that could never admit a request.
var ErrInvalidConfig = errors.New("ratelimit: invalid configuration")

// Clock is the time source of limiters and interceptors. Tests replace it
// with a fake clock; the default is the system clock.
type Clock interface {
	Now() time.Time
	// NewTimer returns a channel that receives after d, and a function
	// that stops the timer.
	NewTimer(d time.Duration) (c <-chan time.Time, stop func() bool)
}

// systemClock reads time as its start time plus the monotonic time elapsed
// since: one clock read instead of time.Now's two, and immune to wall-clock
// steps, which is what a rate limiter wants.
type systemClock struct{ base time.Time }

func (c systemClock) Now() time.Time { return c.base.Add(time.Since(c.base)) }

func (systemClock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// SystemClock is the Clock used unless WithClock says otherwise. Its Now
// follows the monotonic clock from the moment the program started.
var SystemClock Clock = systemClock{base: time.Now()}
