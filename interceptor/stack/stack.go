package stack

import (
	"google.golang.org/grpc"

	"github.com/grpckit/grpckit/interceptor/breaker"
	"github.com/grpckit/grpckit/interceptor/ratelimit"
	"github.com/grpckit/grpckit/interceptor/recovery"
	"github.com/grpckit/grpckit/interceptor/shedding"
	"github.com/grpckit/grpckit/interceptor/tracing"
)

// Server returns the recommended server options: chained unary and stream
// interceptors: tracing (outermost), recovery, rate limit, handler. Pass them to grpc.NewServer; interceptors added after them
// with grpc.ChainUnaryInterceptor or grpc.ChainStreamInterceptor run inside
// the stack, between the rate limiter and the handler.
//
// No rate limiter runs unless WithLimiter gives one (see the package doc for
// why). Invalid or conflicting options are reported here, all at once.
func Server(opts ...ServerOption) ([]grpc.ServerOption, error) {
	c := newServerConfig(opts)
	l := c.serverLimiter()
	if err := c.err(); err != nil {
		return nil, err
	}
	var out []grpc.ServerOption
	unary, stream := c.interceptors(l)
	switch {
	case c.noTracing:
	case tracing.StatsHandlerPath(c.tracing...):
		out = append(out, tracing.ServerOption(c.tracing...))
	default:
		// Tracing wraps the chain directly rather than through gRPC's,
		// which would allocate a closure per call to link the two.
		unary = tracing.WrapUnaryServer(unary, c.tracing...)
		stream = tracing.WrapStreamServer(stream, c.tracing...)
	}
	return append(out, grpc.ChainUnaryInterceptor(unary), grpc.ChainStreamInterceptor(stream)), nil
}

// interceptors returns the server's interceptors: recovery, wrapping the
// adaptive limiter unless WithoutShedding, wrapping the rate limiter of l
// unless l is nil.
func (c *serverConfig) interceptors(l ratelimit.Limiter) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	var unary grpc.UnaryServerInterceptor
	var stream grpc.StreamServerInterceptor
	if l != nil {
		// KeyPeer first, so that a ratelimit.WithKey in the options wins.
		rl := append([]ratelimit.Option{ratelimit.WithKey(ratelimit.KeyPeer)}, c.limiterOpts...)
		unary, stream = ratelimit.UnaryServerInterceptor(l, rl...), ratelimit.StreamServerInterceptor(l, rl...)
	}
	if !c.noShedding {
		s := c.shedder
		if s == nil {
			s = shedding.New()
		}
		unary, stream = shedding.WrapUnary(s, unary), shedding.WrapStream(s, stream)
	}
	if unary == nil {
		return recovery.UnaryServerInterceptor(c.recovery...), recovery.StreamServerInterceptor(c.recovery...)
	}
	// Each layer wraps the next directly rather than through gRPC's chain,
	// which would allocate a closure per call to link them.
	return recovery.WrapUnary(unary, c.recovery...), recovery.WrapStream(stream, c.recovery...)
}

// serverLimiter returns the server's limiter: the one given, or nil (no
// rate limiting) by default or with WithoutRateLimit.
func (c *serverConfig) serverLimiter() ratelimit.Limiter {
	if c.noRateLimit {
		return nil
	}
	return c.limiter
}

// Client returns the recommended dial options: chained unary and stream
// client interceptors: tracing, rate limit (honours grpc-retry-pushback-ms),
// breaker. Pass them to grpc.NewClient;
// interceptors added after them with grpc.WithChainUnaryInterceptor or
// grpc.WithChainStreamInterceptor run inside the stack, after the breaker.
//
// The default limiter is ratelimit.Unlimited, so the rate limiter only holds
// calls back while a server's pushback lasts; the default breaker is a
// breaker.Group with breaker.New's defaults, one breaker per method. Invalid
// or conflicting options are reported here, all at once.
func Client(opts ...ClientOption) ([]grpc.DialOption, error) {
	c := newClientConfig(opts)
	g := c.breakerGroup()
	if err := c.err(); err != nil {
		return nil, err
	}
	var out []grpc.DialOption
	traced := !c.noTracing && !tracing.StatsHandlerPath(c.tracing...)
	if !c.noTracing && !traced {
		out = append(out, tracing.DialOption(c.tracing...))
	}
	var unary grpc.UnaryClientInterceptor
	var stream []grpc.StreamClientInterceptor
	if g != nil {
		unary = g.UnaryClientInterceptor()
	}
	if !c.noRateLimit {
		l := c.limiter
		if l == nil {
			l = ratelimit.Unlimited
		}
		// One ratelimit.Client, so that a pushback on a unary call holds
		// back streams too and the other way round. The limiter wraps the
		// breaker directly rather than through gRPC's chain, which would
		// allocate a closure per call to link the two.
		rc := ratelimit.NewClient(l, c.limiterOpts...)
		if unary != nil {
			unary = rc.WrapUnary(unary)
		} else {
			unary = rc.UnaryClientInterceptor()
		}
		stream = append(stream, rc.StreamClientInterceptor())
	}
	if g != nil {
		stream = append(stream, g.StreamClientInterceptor())
	}
	if traced {
		// Tracing first, so the limiter's and the breaker's events land
		// on the client span; it wraps the unary chain directly.
		stream = append([]grpc.StreamClientInterceptor{tracing.StreamClientInterceptor(c.tracing...)}, stream...)
		if unary == nil {
			unary = tracing.UnaryClientInterceptor(c.tracing...)
		} else {
			unary = tracing.WrapUnaryClient(unary, c.tracing...)
		}
	}
	if unary == nil {
		return out, nil
	}
	return append(out, grpc.WithChainUnaryInterceptor(unary), grpc.WithChainStreamInterceptor(stream...)), nil
}

// breakerGroup returns the client's breaker Group: the one given, one built
// from the options, or nil without a breaker.
func (c *clientConfig) breakerGroup() *breaker.Group {
	switch {
	case c.noBreaker:
		return nil
	case c.groups > 0:
		return c.group
	}
	for _, o := range c.breakerOpts {
		if isNil(o) {
			return nil // checkOptions has said so, naming the stack option
		}
	}
	g, err := breaker.New(c.breakerOpts...)
	if err != nil {
		c.fail("WithBreakerOptions: %w", err)
		return nil
	}
	return g
}
