package breaker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// Defaults used when the matching option is not given.
//
// A breaker keyed by method stands in front of every backend of a service,
// so its defaults are chosen for a channel that also ejects failing
// backends one by one (the grpckit_outlier_ejection policy) and for the
// breaker to be the last resort: it opens when the service as a whole
// fails, not when one backend among several does.
//
//   - Volume and ratio, as Hystrix's: at least 20 calls finished in the
//     10 s window, at least half of them failures. Fewer calls are too few
//     to tell a failing service from bad luck; with round robin over n
//     backends one bad backend fails about 1/n of the calls, under half
//     for n >= 3.
//   - Spread: the failures come from more than half of the backends that
//     answered in the window. Failures confined to half of the backends or
//     fewer are left to outlier ejection, which takes out up to half of
//     them by default (maxEjectionPercent 50), however fast they fail and
//     whatever share of the calls they took; over half, ejection cannot
//     help and the breaker opens.
//   - Lone backend: when a single backend answered in the window, its
//     failures open the breaker only once they have lasted 3 s. It may be
//     the only backend, or the first of several to connect after a start
//     or a resolver update, taking every call until the others are READY;
//     3 s lets them connect, and lets outlier ejection remove it, before a
//     method-wide breaker refuses calls for 30 s. A service whose one
//     backend fails gets 3 s more of calls than without the rule.
//   - Open timeout 30 s and 3 probes: as gobreaker and Hystrix-like
//     breakers do; the probes go wherever the balancer sends them.
const (
	DefaultMaxRequests  = 3                // half-open probes
	DefaultInterval     = 10 * time.Second // closed-state counting window
	DefaultOpenTimeout  = 30 * time.Second // open period before half-open
	DefaultFailureRatio = 0.5              // trip at >= 50 % failures ...
	DefaultMinRequests  = 20               // ... over at least 20 finished calls ...
	DefaultSpread       = 0.5              // ... from over half of the backends that answered ...
	DefaultLoneFor      = 3 * time.Second  // ... and, from a lone backend, lasting 3 s
	DefaultMaxKeys      = 10000            // breakers a Group holds (see Group)
	DefaultIdleTimeout  = 10 * time.Minute // a closed, unused breaker is forgotten
)

// DefaultFailureCodes are the status codes counted as failures unless
// WithFailureCodes or WithIsFailure replaces them. Every other error of a
// call that reached a backend counts as a success: the backend answered.
var DefaultFailureCodes = []codes.Code{
	codes.Unavailable, codes.DeadlineExceeded, codes.Internal,
	codes.Unknown, codes.DataLoss, codes.ResourceExhausted,
}

// State is a breaker's state: StateClosed, StateHalfOpen or StateOpen.
type State = gobreaker.State

// Counts are a breaker's counters in its current window.
type Counts = gobreaker.Counts

// The breaker states.
const (
	StateClosed   = gobreaker.StateClosed
	StateHalfOpen = gobreaker.StateHalfOpen
	StateOpen     = gobreaker.StateOpen
)

// KeyFunc picks the breaker a call goes through. Calls with equal keys share
// one breaker. It runs on every call: it should not allocate.
type KeyFunc func(ctx context.Context, cc *grpc.ClientConn, method string) string

// ByMethod keys breakers by full method name ("/greeter.v1.Greeter/SayHello").
// It is the default.
func ByMethod(_ context.Context, _ *grpc.ClientConn, method string) string { return method }

// ByTarget keys breakers by the connection's target, so every method on one
// connection shares a breaker.
func ByTarget(_ context.Context, cc *grpc.ClientConn, _ string) string { return cc.Target() }

// StateChangeFunc is told about every state change of every breaker in a
// Group. It runs after the breaker has released its lock, on the goroutine
// of a call that went through the breaker, so it may call back into the
// Group (State, Counts, or an RPC through the interceptors). Changes are
// delivered one at a time, in order, per key.
type StateChangeFunc func(key string, from, to State)

// Option configures a Group or an interceptor.
type Option func(*options)

type options struct {
	key           KeyFunc // nil for ByMethod, saving an indirect call
	maxRequests   uint32
	interval      time.Duration
	bucketPeriod  time.Duration
	openTimeout   time.Duration
	readyToTrip   func(Counts) bool
	spread        float64       // WithSpread's share
	loneFor       time.Duration // WithSpread's lone time, at most half the window
	tripSet       bool          // a trip condition was given
	spreadSet     bool          // WithSpread was given
	isFailure     func(error) bool
	onStateChange StateChangeFunc
	meterProvider metric.MeterProvider
	maxKeys       int
	idle          time.Duration
	errs          []error
	throttling    *Throttling // WithAdaptiveThrottling's configuration
	machine       []string    // state-machine options given, refused beside throttling
}

func defaultOptions() options {
	return options{
		maxRequests: DefaultMaxRequests,
		interval:    DefaultInterval,
		openTimeout: DefaultOpenTimeout,
		readyToTrip: failureRatio(DefaultFailureRatio, DefaultMinRequests),
		spread:      DefaultSpread,
		loneFor:     DefaultLoneFor,
		isFailure:   newCodeSet(DefaultFailureCodes).isFailure,
		maxKeys:     DefaultMaxKeys,
		idle:        DefaultIdleTimeout,
	}
}

// stateMachine notes that the state-machine option name was given.
func (o *options) stateMachine(name string) { o.machine = append(o.machine, name) }

func (o *options) fail(format string, args ...any) {
	o.errs = append(o.errs, fmt.Errorf("breaker: "+format, args...))
}

func buildOptions(opts []Option) (options, error) {
	o := defaultOptions()
	for i, opt := range opts {
		if opt == nil {
			o.fail("nil option at %d", i)
			continue
		}
		opt(&o)
	}
	if o.bucketPeriod > o.interval {
		o.fail("bucket period %v longer than the window %v", o.bucketPeriod, o.interval)
	}
	// A breaker idle for its whole window holds no count that matters;
	// a shorter idle timeout could forget failures still in the window.
	o.idle = max(o.idle, o.interval)
	if o.tripSet && !o.spreadSet {
		o.spread, o.loneFor = 0, 0 // a trip condition given alone decides alone
	}
	// A fixed window forgets its failures when it restarts: a lone time
	// as long as the window could never be reached.
	o.loneFor = min(o.loneFor, o.interval/2)
	if o.throttling != nil && len(o.machine) > 0 {
		o.fail("WithAdaptiveThrottling has no open or closed state: %s cannot be given with it", strings.Join(o.machine, ", "))
	}
	if o.meterProvider == nil {
		o.meterProvider = otel.GetMeterProvider()
	}
	return o, errors.Join(o.errs...)
}

// WithKey sets how calls are grouped into breakers (default ByMethod).
func WithKey(f KeyFunc) Option {
	return func(o *options) {
		if f == nil {
			o.fail("nil KeyFunc")
			return
		}
		o.key = f
	}
}

// WithMaxRequests sets how many probe calls a half-open breaker lets
// through at once (default 3). As many must succeed to close it again; one
// failure opens it.
func WithMaxRequests(n uint32) Option {
	return func(o *options) {
		if n == 0 {
			o.fail("max requests must be at least 1")
			return
		}
		o.stateMachine("WithMaxRequests")
		o.maxRequests = n
	}
}

// WithInterval sets the fixed window over which a closed breaker counts
// outcomes; the counts are cleared at the end of each window (default 10s).
func WithInterval(d time.Duration) Option {
	return func(o *options) {
		if d <= 0 {
			o.fail("interval %v must be positive", d)
			return
		}
		o.stateMachine("WithInterval")
		o.interval, o.bucketPeriod = d, 0
	}
}

// WithRollingWindow makes a closed breaker count outcomes over a rolling
// window of the given length, advanced in steps of bucket.
func WithRollingWindow(window, bucket time.Duration) Option {
	return func(o *options) {
		if window <= 0 || bucket <= 0 {
			o.fail("rolling window %v and bucket %v must be positive", window, bucket)
			return
		}
		o.stateMachine("WithRollingWindow")
		o.interval, o.bucketPeriod = window, bucket
	}
}

// WithOpenTimeout sets how long a breaker stays open before it lets probes
// through (default 30s).
func WithOpenTimeout(d time.Duration) Option {
	return func(o *options) {
		if d <= 0 {
			o.fail("open timeout %v must be positive", d)
			return
		}
		o.stateMachine("WithOpenTimeout")
		o.openTimeout = d
	}
}

// WithFailureRatio trips a closed breaker when at least ratio of the calls
// finished in the window failed, once at least minRequests have finished.
// Calls still in flight and cancelled calls are not counted. The default is
// WithFailureRatio(0.5, 20) with WithSpread(0.5, 3*time.Second); given
// without WithSpread it replaces both (see WithSpread).
func WithFailureRatio(ratio float64, minRequests uint32) Option {
	return func(o *options) {
		if !(ratio > 0 && ratio <= 1) || minRequests == 0 {
			o.fail("failure ratio %v must be in (0, 1] and min requests %d at least 1", ratio, minRequests)
			return
		}
		o.stateMachine("WithFailureRatio")
		o.readyToTrip, o.tripSet = failureRatio(ratio, minRequests), true
	}
}

// WithConsecutiveFailures trips a closed breaker after n failures in a row.
// Given without WithSpread, it replaces the spread rule too.
func WithConsecutiveFailures(n uint32) Option {
	return func(o *options) {
		if n == 0 {
			o.fail("consecutive failures must be at least 1")
			return
		}
		o.stateMachine("WithConsecutiveFailures")
		o.readyToTrip, o.tripSet = func(c Counts) bool { return c.ConsecutiveFailures >= n }, true
	}
}

// WithReadyToTrip replaces the trip condition. f runs under the breaker's
// lock after every failure in the closed state; it must not call back into
// the breaker. Given without WithSpread, it replaces the spread rule too.
func WithReadyToTrip(f func(Counts) bool) Option {
	return func(o *options) {
		if f == nil {
			o.fail("nil ReadyToTrip")
			return
		}
		o.stateMachine("WithReadyToTrip")
		o.readyToTrip, o.tripSet = f, true
	}
}

// WithSpread sets the spread rule, which holds a closed breaker closed,
// whatever the trip condition says, while the failures in its window look
// like a few bad backends rather than a failing service:
//
//   - unless the backends that failed at least once in the window are more
//     than share (in [0, 1)) of the backends that answered in it;
//   - and, when a single backend answered in the window, until the
//     window has held failures without a break for lone (at most half the
//     window; with a fixed window, since it last restarted).
//
// A backend is a peer address of a call that reached the network and was
// counted; a window tells apart 16, and with more in it the rule stands
// aside (the trip condition alone decides). The default,
// WithSpread(0.5, 3*time.Second), leaves one bad backend among three or
// more to per-endpoint outlier ejection (see the package documentation).
// WithSpread(0, 0) turns the rule off: the trip condition alone decides.
//
// The rule is part of the default trip condition. A trip condition given
// by WithFailureRatio, WithConsecutiveFailures or WithReadyToTrip replaces
// the whole default, the spread rule included, unless WithSpread is given
// as well (in any order): WithFailureRatio(0.5, 50) alone trips on the
// ratio alone, with WithSpread(DefaultSpread, DefaultLoneFor) beside it
// the rule still holds the breaker for one bad backend.
func WithSpread(share float64, lone time.Duration) Option {
	return func(o *options) {
		if !(share >= 0 && share < 1) || lone < 0 {
			o.fail("spread share %v must be in [0, 1) and lone time %v not negative", share, lone)
			return
		}
		o.stateMachine("WithSpread")
		o.spread, o.loneFor, o.spreadSet = share, lone, true
	}
}

// WithFailureCodes replaces DefaultFailureCodes: errors with these codes
// count as failures, other errors as successes.
func WithFailureCodes(cs ...codes.Code) Option {
	return func(o *options) {
		for _, c := range cs {
			if c == codes.OK || c > maxCode {
				o.fail("%v cannot be a failure code", c)
				return
			}
		}
		o.isFailure = newCodeSet(cs).isFailure
	}
}

// WithIsFailure replaces the failure classification: f is given every error
// of a call that reached a backend and was not cancelled by its caller (see
// the package documentation for what is never counted) and returns whether
// it counts as a failure (otherwise it counts as a success).
func WithIsFailure(f func(error) bool) Option {
	return func(o *options) {
		if f == nil {
			o.fail("nil IsFailure")
			return
		}
		o.isFailure = f
	}
}

// WithMaxKeys bounds how many breakers a Group holds (default
// DefaultMaxKeys). A Group that would exceed it first forgets the least
// recently used closed breakers with no call in flight (losing their counts
// in the window); open and half-open breakers are never forgotten, so with
// that many open at once the Group holds more.
func WithMaxKeys(n int) Option {
	return func(o *options) {
		if n < 1 {
			o.fail("max keys %d must be at least 1", n)
			return
		}
		o.maxKeys = n
	}
}

// WithIdleTimeout sets how long a breaker must go unused before its Group
// forgets it (default DefaultIdleTimeout, and never less than the counting
// window). Only a closed breaker with no call in flight is forgotten: its
// window has expired, so a new breaker for the key starts in the same
// state. Idle breakers are looked for when a key is created, at most twice
// per idle timeout.
func WithIdleTimeout(d time.Duration) Option {
	return func(o *options) {
		if d <= 0 {
			o.fail("idle timeout %v must be positive", d)
			return
		}
		o.stateMachine("WithIdleTimeout")
		o.idle = d
	}
}

// WithOnStateChange sets a function told about every state change.
func WithOnStateChange(f StateChangeFunc) Option {
	return func(o *options) {
		o.stateMachine("WithOnStateChange")
		o.onStateChange = f
	}
}

// WithMeterProvider sets where the breaker's metrics go (default the global
// provider from otel.GetMeterProvider).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *options) { o.meterProvider = mp }
}

func failureRatio(ratio float64, minRequests uint32) func(Counts) bool {
	return func(c Counts) bool {
		done := c.TotalSuccesses + c.TotalFailures
		return done >= minRequests && float64(c.TotalFailures)/float64(done) >= ratio
	}
}

// WithAdaptiveThrottling makes a Group throttle calls adaptively, as a
// Throttle configured by cfg does (see Throttling and NewThrottle), instead
// of opening and closing breakers: its interceptors are the Throttle's, and
// its State and Counts report every key closed with nothing counted. The
// options that configure the state machine (WithMaxRequests, WithInterval,
// WithRollingWindow, WithOpenTimeout, WithFailureRatio,
// WithConsecutiveFailures, WithReadyToTrip, WithSpread, WithIdleTimeout,
// WithOnStateChange) mean nothing to it and are refused beside it; WithKey,
// WithFailureCodes, WithIsFailure and WithMaxKeys apply as for a Throttle,
// and WithMeterProvider is accepted and unused (a Throttle records no
// metrics).
func WithAdaptiveThrottling(cfg Throttling) Option {
	return func(o *options) { o.throttling = &cfg }
}
