// Package stack puts grpckit's interceptors together in the recommended order
// with one call per side: Server for grpc.NewServer, Client for
// grpc.NewClient.
//
//	sopts, err := stack.Server()
//	srv := grpc.NewServer(sopts...)
//
//	copts, err := stack.Client()
//	cc, err := grpc.NewClient(target, append(copts, grpc.WithTransportCredentials(creds))...)
//
// On a server a call goes through, from the outside in:
//
//  1. tracing (interceptor/tracing), the outermost interceptor: the server
//     span exists, with the caller's trace context, before the other layers
//     run, and it ends after them, so their span events (a rate-limit
//     rejection) and their status (a recovered panic's codes.Internal) land
//     on it. An RPC nobody samples costs the sampling decision and the
//     propagation of the trace context; WithTracing(tracing.WithStatsHandler())
//     uses tracing's stats handler instead, at a higher cost per RPC.
//  2. recovery (interceptor/recovery), right inside tracing, so a panic
//     anywhere inside it, in the handler, in a user's KeyFunc or Limiter,
//     becomes codes.Internal instead of a crashed process, and tracing still
//     sees the call end.
//  3. adaptive load shedding (interceptor/shedding), which learns the
//     server's capacity with nothing to configure and sheds only while the
//     server is overloaded, sheddable calls first, never health checks. A
//     shed call is codes.ResourceExhausted with the grpc-retry-pushback-ms
//     trailer.
//  4. rate limit (interceptor/ratelimit), just before the handler, so a
//     rejected call costs the server as little as possible and the handler
//     runs only for admitted calls. A rejection is codes.ResourceExhausted
//     with the grpc-retry-pushback-ms trailer.
//  5. the handler, and any interceptor the caller chains after these options.
//
// The default protection against overload is the adaptive limiter: it needs
// no guess, sheds nothing until the server's CPUs are saturated by its own
// calls, and then admits what the server completes (see package shedding for
// how, and for what it does not protect from). WithShedding shares a
// Limiter, to read its Stats; WithoutShedding leaves it out. It comes before
// the rate limiter, whose per-caller budgets apply to the calls it admits.
//
// The server has no rate limiter unless WithLimiter gives one. No fixed rate
// is a safe default: a per-peer budget that suits one service refuses
// ordinary traffic of another, and behind an L7 proxy, an ingress or a
// sidecar every call comes from one peer, so a per-peer limit becomes a
// limit on the whole service. A limiter protects only when sized for the
// service it guards: give WithLimiter one (a ratelimit.TokenBucket or
// SlidingWindow, keyed per peer host by default, or per method or caller
// with ratelimit.WithKey), and let the client's breaker and the balancer's
// outlier ejection deal with failing backends. Unary calls and streams
// share one budget.
//
// On a client a call goes through:
//
//  1. tracing, the outermost interceptor, so the layers below record their
//     events on the call's client span: a call the limiter holds back or
//     the breaker refuses has a client span with the decision on it.
//  2. rate limit, outside the breaker: by default (ratelimit.Unlimited) it
//     only honours the servers' pushback, holding further calls to that
//     target and method for as long as a server asked, at most
//     ratelimit.DefaultMaxPushback (see ratelimit.Client for the options).
//     Unary calls and streams share the holds. A call it holds back never
//     reaches the breaker, so the client's own throttling is not counted as
//     a backend failure.
//  3. breaker (interceptor/breaker), closest to the network, so it counts
//     only what the backend answered and an open breaker fails the call
//     fast with codes.Unavailable without reaching the server.
//
// The default breaker is a breaker.Group with breaker.New's defaults, one
// breaker per method; WithBreaker shares a Group built by the caller (to read
// its state), WithBreakerOptions configures the one Client builds. Those
// defaults make the breaker the last resort behind per-endpoint outlier
// ejection (balancer/outlier, which the channel's service config selects,
// e.g. {"loadBalancingConfig":[{"grpckit_outlier_ejection":{"childPolicy":
// [{"round_robin":{}}]}}]}): it opens when at least 20 calls finished in
// its 10 s window, at least half of them failed, and the failures came from
// more than half of the backends that answered, or from the only one for
// 3 s. One bad backend among three never opens it; ejection removes that
// backend while the others serve. See the breaker package for the reasoning.
// Among those defaults, a server's rejection (codes.ResourceExhausted)
// counts as a failure; the limiter in front of the breaker keeps that to one
// rejection per pushback, so a server that throttles a client opens its
// breaker only if it rejects at least half of the calls that still reach
// it. breaker.WithFailureCodes changes that.
//
// Every layer can be configured or left out with an option (WithoutTracing,
// WithoutShedding, WithoutRateLimit, WithoutBreaker); recovery is always on. Options are
// evaluated once, when Server or Client is called, and an invalid or
// conflicting set (WithLimiter with WithoutRateLimit, say) is an error
// prefixed "stack: " naming the options at fault.
package stack
