package stack

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/grpckit/grpckit/interceptor/breaker"
	"github.com/grpckit/grpckit/interceptor/ratelimit"
	"github.com/grpckit/grpckit/interceptor/recovery"
	"github.com/grpckit/grpckit/interceptor/shedding"
	"github.com/grpckit/grpckit/interceptor/tracing"
)

// ServerOption configures Server. Options are evaluated once, when Server
// is called.
type ServerOption interface {
	applyServer(*serverConfig)
}

// ClientOption configures Client. Options are evaluated once, when Client
// is called.
type ClientOption interface {
	applyClient(*clientConfig)
}

// Option configures Server and Client alike.
type Option interface {
	ServerOption
	ClientOption
}

// common is the configuration both sides share.
type common struct {
	tracing     []tracing.Option
	withTracing bool // WithTracing was given
	noTracing   bool // WithoutTracing was given

	limiter     ratelimit.Limiter
	limiterOpts []ratelimit.Option
	limiters    int  // how many WithLimiter were given
	noRateLimit bool // WithoutRateLimit was given

	errs []error
}

type serverConfig struct {
	common
	recovery []recovery.Option

	shedder    *shedding.Limiter
	sheddings  int  // how many WithShedding were given
	noShedding bool // WithoutShedding was given
}

type clientConfig struct {
	common
	group       *breaker.Group
	groups      int // how many WithBreaker were given
	breakerOpts []breaker.Option
	withOpts    bool // WithBreakerOptions was given
	noBreaker   bool // WithoutBreaker was given
}

// fail records a construction error, prefixed with the package name.
func (c *common) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("stack: "+format, args...))
}

// check reports the conflicts between the options both sides share.
func (c *common) check() {
	if c.withTracing && c.noTracing {
		c.fail("WithTracing and WithoutTracing both given")
	}
	if c.limiters > 0 && c.noRateLimit {
		c.fail("WithLimiter and WithoutRateLimit both given")
	}
	if c.limiters > 1 {
		c.fail("WithLimiter given %d times; give one limiter", c.limiters)
	}
}

func (c *common) err() error { return errors.Join(c.errs...) }

func newServerConfig(opts []ServerOption) *serverConfig {
	c := &serverConfig{}
	for _, o := range opts {
		if o != nil {
			o.applyServer(c)
		}
	}
	c.check()
	return c
}

func newClientConfig(opts []ClientOption) *clientConfig {
	c := &clientConfig{}
	for _, o := range opts {
		if o != nil {
			o.applyClient(c)
		}
	}
	c.check()
	return c
}

// check adds the server's own conflicts to the shared ones.
func (c *serverConfig) check() {
	c.common.check()
	if c.sheddings > 1 {
		c.fail("WithShedding given %d times; give one Limiter", c.sheddings)
	}
	if c.sheddings > 0 && c.noShedding {
		c.fail("WithShedding and WithoutShedding both given")
	}
}

// check adds the client's own conflicts to the shared ones.
func (c *clientConfig) check() {
	c.common.check()
	if c.groups > 1 {
		c.fail("WithBreaker given %d times; give one Group", c.groups)
	}
	if c.groups > 0 && c.withOpts {
		c.fail("WithBreaker and WithBreakerOptions both given; configure the Group with breaker.New instead")
	}
	if c.noBreaker && (c.groups > 0 || c.withOpts) {
		c.fail("WithoutBreaker given with WithBreaker or WithBreakerOptions")
	}
}

// option applies to both sides through their shared configuration.
type option func(*common)

func (f option) applyServer(c *serverConfig) { f(&c.common) }
func (f option) applyClient(c *clientConfig) { f(&c.common) }

type serverOption func(*serverConfig)

func (f serverOption) applyServer(c *serverConfig) { f(c) }

type clientOption func(*clientConfig)

func (f clientOption) applyClient(c *clientConfig) { f(c) }

// WithTracing passes opts to tracing's interceptors (or, with
// tracing.WithStatsHandler, to tracing.ServerOption or tracing.DialOption).
// Tracing is on without it, with the global tracer provider and
// propagator; the options of several WithTracing add up.
func WithTracing(opts ...tracing.Option) Option {
	return option(func(c *common) {
		c.withTracing = true
		c.checkOptions("WithTracing", "tracing.Option", opts)
		c.tracing = append(c.tracing, opts...)
	})
}

// WithoutTracing leaves tracing out: the RPCs get no span
// and propagate no trace context.
func WithoutTracing() Option {
	return option(func(c *common) { c.noTracing = true })
}

// WithLimiter sets the limiter of the rate-limit interceptors, and opts
// passes options to them (ratelimit.WithKey, ratelimit.WithWait,
// ratelimit.WithPerMessage, and on Client ratelimit.WithMaxPushback and
// ratelimit.WithPushbackScope). On Server it adds the rate limit, which the
// server has none of by default; requests are keyed per peer
// (ratelimit.KeyPeer) unless opts give ratelimit.WithKey. On Client it
// replaces ratelimit.Unlimited, under one global key unless opts say
// otherwise. A nil l, also a nil pointer in the interface (the result of a
// constructor whose error was ignored), is an error.
func WithLimiter(l ratelimit.Limiter, opts ...ratelimit.Option) Option {
	return option(func(c *common) {
		c.limiters++
		if isNil(l) {
			c.fail("WithLimiter: nil limiter")
			return
		}
		c.limiter = l
		c.checkOptions("WithLimiter", "ratelimit.Option", opts)
		c.limiterOpts = opts
	})
}

// checkOptions fails for each nil option in opts, which the layer's
// package would otherwise dereference when Server or Client builds it.
func (c *common) checkOptions(with, typ string, opts any) {
	v := reflect.ValueOf(opts)
	for i := range v.Len() {
		if isNil(v.Index(i).Interface()) {
			c.fail("%s: nil %s at %d", with, typ, i)
		}
	}
}

// isNil reports whether l is nil or holds a nil pointer, map, func or the
// like, which would fail at the first call instead of at construction.
func isNil(l any) bool {
	if l == nil {
		return true
	}
	switch v := reflect.ValueOf(l); v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Chan, reflect.Slice, reflect.Interface:
		return v.IsNil()
	}
	return false
}

// WithoutRateLimit leaves the rate-limit interceptors out. On Client that
// also means the servers' pushback (grpc-retry-pushback-ms) is no longer
// honoured between calls.
func WithoutRateLimit() Option {
	return option(func(c *common) { c.noRateLimit = true })
}

// WithRecovery passes opts to the recovery interceptors (recovery.WithHandler
// to answer a panic differently). Recovery is always on; the options of
// several WithRecovery add up.
func WithRecovery(opts ...recovery.Option) ServerOption {
	return serverOption(func(c *serverConfig) {
		c.checkOptions("WithRecovery", "recovery.Option", opts)
		c.recovery = append(c.recovery, opts...)
	})
}

// WithShedding makes the server's adaptive limiter l (see package
// shedding), so the caller can share it between servers or read its Stats.
// Without it Server makes one with shedding.New. A nil l is an error.
func WithShedding(l *shedding.Limiter) ServerOption {
	return serverOption(func(c *serverConfig) {
		c.sheddings++
		if l == nil {
			c.fail("WithShedding: nil Limiter")
			return
		}
		c.shedder = l
	})
}

// WithoutShedding leaves the adaptive limiter out: an overloaded server
// then queues every call until its deadline.
func WithoutShedding() ServerOption {
	return serverOption(func(c *serverConfig) { c.noShedding = true })
}

// WithBreaker makes the client's breaker interceptors use g, so the caller
// can share it between connections or read its state (g.State, g.Counts).
// It excludes WithBreakerOptions. A nil g is an error.
func WithBreaker(g *breaker.Group) ClientOption {
	return clientOption(func(c *clientConfig) {
		c.groups++
		if g == nil {
			c.fail("WithBreaker: nil Group")
			return
		}
		c.group = g
	})
}

// WithBreakerOptions configures the breaker.Group that Client builds with
// breaker.New (default: breaker.New's defaults, one breaker per method).
// Invalid options make Client fail. The options of several
// WithBreakerOptions add up.
func WithBreakerOptions(opts ...breaker.Option) ClientOption {
	return clientOption(func(c *clientConfig) {
		c.withOpts = true
		c.checkOptions("WithBreakerOptions", "breaker.Option", opts)
		c.breakerOpts = append(c.breakerOpts, opts...)
	})
}

// WithoutBreaker leaves the breaker interceptors out.
func WithoutBreaker() ClientOption {
	return clientOption(func(c *clientConfig) { c.noBreaker = true })
}
