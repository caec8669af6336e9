package ratelimit

import (
	"fmt"
	"time"

	"go.opentelemetry.io/otel/metric"

	"google.golang.org/grpc/grpclog"
)

var logger = grpclog.Component("grpckit-ratelimit")

// DefaultMaxKeys is how many keys a limiter holds state for unless
// WithMaxKeys says otherwise.
const DefaultMaxKeys = 1 << 20

// LimiterOption configures NewTokenBucket and NewSlidingWindow.
type LimiterOption interface {
	applyLimiter(*limiterOptions)
}

// Option configures the interceptors. Options are evaluated once, when the
// interceptor is made; a nil Option is ignored (the interceptor constructors
// return no error).
type Option interface {
	apply(*options)
}

type limiterOptions struct {
	clock         Clock
	maxKeys       int
	idle          time.Duration
	meterProvider metric.MeterProvider
}

type limiterOptionFunc func(*limiterOptions)

func (f limiterOptionFunc) applyLimiter(o *limiterOptions) { f(o) }

// evalLimiterOptions applies opts, refusing a nil one (a nil interface or
// a nil function) by its position.
func evalLimiterOptions(opts []LimiterOption) (limiterOptions, error) {
	lo := limiterOptions{clock: SystemClock, maxKeys: DefaultMaxKeys}
	for i, o := range opts {
		if f, ok := o.(limiterOptionFunc); o == nil || ok && f == nil {
			return lo, fmt.Errorf("%w: nil LimiterOption at position %d", ErrInvalidConfig, i)
		}
		o.applyLimiter(&lo)
	}
	return lo, nil
}

// WithMaxKeys bounds how many keys a limiter holds state for (default
// DefaultMaxKeys; values below 1 keep the default). The bound is exact: the
// limiter never holds more than n keys, and holds n once enough keys have
// come by. To make room it forgets the least recently used of a sample of
// keys, which starts again from fresh state when it comes back. Keys are
// split between up to 64 shards of at least 256 keys, each making room
// among its own keys, so when keys fall unevenly a key may be forgotten
// before n are held: never below 512 keys (one shard), and from 3/4 of n at
// the earliest above (with random keys, usually from 85-97%).
//
// Measured heap per key, with 11-byte keys (the store keeps its own copy):
// about 160 B for a TokenBucket and 145 B for a SlidingWindow, at 10k and at
// 1M keys (BenchmarkStoreMemory).
func WithMaxKeys(n int) LimiterOption {
	return limiterOptionFunc(func(o *limiterOptions) {
		if n > 0 {
			o.maxKeys = n
		}
	})
}

// WithIdleTimeout makes a limiter forget keys unused for d whose state is
// fresh again (a full bucket; windows with nothing admitted or booked), so
// forgetting one never changes an answer. The default is the time an unused
// key takes to get there when nothing was booked ahead: the refill time, or
// two windows. Past the key bound (WithMaxKeys) the least recently used key
// is forgotten whatever its state.
func WithIdleTimeout(d time.Duration) LimiterOption {
	return limiterOptionFunc(func(o *limiterOptions) {
		if d > 0 {
			o.idle = d
		}
	})
}

// ClockOption sets the time source; it configures limiters and interceptors
// alike.
type ClockOption struct{ c Clock }

// WithClock makes a limiter or an interceptor read time (and, for the
// interceptors' wait mode, wait) on c instead of the system clock.
func WithClock(c Clock) ClockOption { return ClockOption{c: c} }

func (o ClockOption) applyLimiter(lo *limiterOptions) {
	if o.c != nil {
		lo.clock = o.c
	}
}

func (o ClockOption) apply(io *options) {
	if o.c != nil {
		io.clock = o.c
	}
}

type options struct {
	clock         Clock
	key           KeyFunc
	maxWait       time.Duration
	perMessage    Limiter
	maxPushback   time.Duration
	pushbackScope PushbackScope
	meterProvider metric.MeterProvider
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

func evalOptions(opts []Option) *options {
	o := &options{clock: SystemClock, key: KeyGlobal, maxPushback: DefaultMaxPushback}
	for _, opt := range opts {
		if f, ok := opt.(optionFunc); opt == nil || ok && f == nil {
			continue
		}
		opt.apply(o)
	}
	return o
}

// WithKey sets how requests are grouped into keys (default KeyGlobal).
func WithKey(f KeyFunc) Option {
	return optionFunc(func(o *options) {
		if f != nil {
			o.key = f
		}
	})
}

// WithWait switches from rejecting at once to waiting for the limiter, up to
// maxWait and never past the request's deadline. A request whose wait could
// not end before then is rejected at once, without waiting.
func WithWait(maxWait time.Duration) Option {
	return optionFunc(func(o *options) { o.maxWait = max(maxWait, 0) })
}

// WithPerMessage also limits every message of a stream with l, under the
// stream's key: messages received on the server, messages sent on the
// client. Streams are always limited when they open by the interceptor's
// own Limiter.
func WithPerMessage(l Limiter) Option {
	return optionFunc(func(o *options) { o.perMessage = l })
}

// WithMaxPushback caps how long a client holds calls back after a server's
// pushback (default DefaultMaxPushback): a server asking for longer is
// honoured for d. Values below 1 keep the default. Server interceptors
// ignore it.
func WithMaxPushback(d time.Duration) Option {
	return optionFunc(func(o *options) {
		if d > 0 {
			o.maxPushback = d
		}
	})
}

// WithPushbackScope sets which calls a client holds back after a server's
// pushback (default PushbackPerMethod). Holds are always per target and per
// key. Server interceptors ignore it.
func WithPushbackScope(s PushbackScope) Option {
	return optionFunc(func(o *options) { o.pushbackScope = s })
}
