package retrybudget

import (
	"errors"
	"fmt"
	"math"
	"time"

	"google.golang.org/grpc/codes"
)

// Defaults used when the matching option is not given.
const (
	// DefaultRatio lets retries add at most a fifth to the successful
	// load: Finagle's and Envoy's default, enough to ride out a backend
	// restart or a lost connection, while a failing backend sees at most
	// the reserve.
	DefaultRatio = 0.2
	// DefaultMinPerSecond is the reserve for clients with little traffic,
	// which could otherwise never retry (Finagle's default).
	DefaultMinPerSecond = 10
	// DefaultWindow is how long a success or a retry is remembered
	// (Finagle's TTL).
	DefaultWindow = 10 * time.Second
	// DefaultBuckets is how many steps the window slides by.
	DefaultBuckets = 10
)

// Policy is how a failed unary call is retried. Its fields are those of the
// service config's retryPolicy, with the same meaning.
type Policy struct {
	// MaxAttempts is the number of attempts, the first included (at least
	// 2; gRPC caps it at 5, and so does this package).
	MaxAttempts int
	// InitialBackoff, MaxBackoff and BackoffMultiplier set the delay
	// before retry n, drawn uniformly from [0, min(InitialBackoff ·
	// BackoffMultiplier^(n−1), MaxBackoff)).
	InitialBackoff    time.Duration
	MaxBackoff        time.Duration
	BackoffMultiplier float64
	// RetryableStatusCodes are the codes that are retried.
	RetryableStatusCodes []codes.Code
}

// DefaultPolicy is the Policy used unless WithPolicy gives one.
var DefaultPolicy = Policy{
	MaxAttempts:          3,
	InitialBackoff:       50 * time.Millisecond,
	MaxBackoff:           time.Second,
	BackoffMultiplier:    2,
	RetryableStatusCodes: []codes.Code{codes.Unavailable},
}

// maxAttempts is gRPC's own cap on retryPolicy.maxAttempts.
const maxAttempts = 5

// Option configures a Budget.
type Option func(*options)

type options struct {
	ratio     float64
	minPerSec float64
	window    time.Duration
	buckets   int
	policy    Policy
	fromSC    bool // WithServiceConfigPolicy
	errs      []error
}

func (o *options) fail(format string, args ...any) {
	o.errs = append(o.errs, fmt.Errorf("retrybudget: "+format, args...))
}

func buildOptions(opts []Option) (options, error) {
	o := options{
		ratio:     DefaultRatio,
		minPerSec: DefaultMinPerSecond,
		window:    DefaultWindow,
		buckets:   DefaultBuckets,
		policy:    DefaultPolicy,
	}
	for i, opt := range opts {
		if opt == nil {
			o.fail("nil option at %d", i)
			continue
		}
		opt(&o)
	}
	if o.window < time.Duration(o.buckets) {
		o.fail("window %v shorter than a nanosecond per bucket (%d buckets)", o.window, o.buckets)
	}
	return o, errors.Join(o.errs...)
}

// WithRatio sets the share of the successes in the window that may be
// retried (default DefaultRatio); 0 leaves only the reserve. A ratio,
// reserve or window so large that the allowance exceeds 2^62 retries allows
// 2^62.
func WithRatio(r float64) Option {
	return func(o *options) {
		if !(r >= 0) || math.IsInf(r, 0) {
			o.fail("ratio %v must be a finite number, at least 0", r)
			return
		}
		o.ratio = r
	}
}

// WithMinPerSecond sets the reserve: retries allowed per second of the
// window whatever the successes (default DefaultMinPerSecond); 0 allows
// retries only out of successes.
func WithMinPerSecond(n float64) Option {
	return func(o *options) {
		if !(n >= 0) || math.IsInf(n, 0) {
			o.fail("min per second %v must be a finite number, at least 0", n)
			return
		}
		o.minPerSec = n
	}
}

// WithWindow sets how long successes and retries are remembered (default
// DefaultWindow), in steps of window/buckets (buckets in [1, 64], default
// DefaultBuckets).
func WithWindow(window time.Duration, buckets int) Option {
	return func(o *options) {
		if window <= 0 || buckets < 1 || buckets > 64 {
			o.fail("window %v must be positive and buckets %d in [1, 64]", window, buckets)
			return
		}
		o.window, o.buckets = window, buckets
	}
}

// WithPolicy sets how failed unary calls are retried (default
// DefaultPolicy).
func WithPolicy(p Policy) Option {
	return func(o *options) {
		switch {
		case p.MaxAttempts < 2:
			o.fail("policy: max attempts %d must be at least 2", p.MaxAttempts)
		case p.InitialBackoff <= 0 || p.MaxBackoff <= 0:
			o.fail("policy: initial backoff %v and max backoff %v must be positive", p.InitialBackoff, p.MaxBackoff)
		case !(p.BackoffMultiplier > 0) || math.IsInf(p.BackoffMultiplier, 0):
			o.fail("policy: backoff multiplier %v must be a positive finite number", p.BackoffMultiplier)
		case len(p.RetryableStatusCodes) == 0:
			o.fail("policy: no retryable status codes")
		default:
			for _, c := range p.RetryableStatusCodes {
				if c == codes.OK || c > codes.Unauthenticated {
					o.fail("policy: %v cannot be retried", c)
					return
				}
			}
			p.MaxAttempts = min(p.MaxAttempts, maxAttempts)
			p.RetryableStatusCodes = append([]codes.Code(nil), p.RetryableStatusCodes...)
			o.policy = p
		}
	}
}

// WithServiceConfigPolicy makes each unary call retried as its method's
// retryPolicy in the channel's service config says (maxAttempts, backoff,
// retryableStatusCodes), looked up with grpc.ClientConn.GetMethodConfig
// when an attempt fails, instead of by Policy; a method with no
// retryPolicy there (as a non-idempotent one should have none) is not
// retried at all. Policy's codes still tell which results are failures
// rather than successes for a method without a retryPolicy. Without this
// option Policy applies to every unary method of the channel.
func WithServiceConfigPolicy() Option {
	return func(o *options) { o.fromSC = true }
}
