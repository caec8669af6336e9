// Package ratelimit limits the rate of gRPC calls, on servers and on
// clients, with unary and stream interceptors around a small Limiter
// interface.
//
// Two limiters come with it, both keeping one state per key in a sharded
// store with a memory bound (see WithMaxKeys and WithIdleTimeout):
//
//   - TokenBucket, a token bucket per key that admits exactly what a
//     golang.org/x/time/rate Limiter per key would (its rate and burst are
//     rate.Limit and int, and a test replays it against rate.Limiter);
//   - SlidingWindow, a sliding-window counter per key (the current and the
//     previous fixed window, the latter weighted), a few integers per key.
//
// Requests are grouped into keys by a KeyFunc: KeyGlobal (the default),
// KeyMethod, KeyPeer, KeyMetadata (an API key header), or any function.
//
// Both admit no more than their theory allows however many goroutines ask
// at once (a request that read the clock before another one moved the key on
// counts as arriving with it), and a stress test holds them to it.
//
// By default a request over the limit is rejected at once; WithWait makes it
// wait for the limiter instead, never past its deadline: a request whose
// wait would end after it is rejected at once, and one whose context ends
// while it waits gives its turn back (see Canceler). A rejection is
// codes.ResourceExhausted, naming the method, with the grpc-retry-pushback-ms
// trailer (PushbackTrailer) so that gRPC's retry policy backs off.
//
// The client interceptors honour that trailer: after a pushback they hold
// further calls to the same target, of the same method (WithPushbackScope)
// and under the same key, for as long as asked but at most
// DefaultMaxPushback (WithMaxPushback). A trailer gRPC's retry policy would
// not read as a delay (several values, or one that is not a non-negative
// integer of milliseconds) holds nothing. The unary and stream interceptors of
// one Client (NewClient) share those holds. A call the client refuses, held
// back or over its own limiter, fails with codes.ResourceExhausted and a
// message saying the client held it back, so that it is not taken for the
// server's rejection.
//
// Streams are limited when they open; WithPerMessage limits their messages
// too. On a client a message refused ends the stream, as any SendMsg error
// does in gRPC. Decisions are recorded as span events and attributes when the span in
// the request's context is recording; keys are never recorded, nor logged.
// Interceptors and limiters also record OpenTelemetry metrics (admitted,
// rejected, wait time, keys held and evicted) on the MeterProvider of
// WithMeterProvider, by default the global one; see WithMeterProvider.
//
// Construction refuses configurations that could never admit a request, such
// as a burst of 0 with a finite rate; the errors wrap ErrInvalidConfig.
//
// In the recommended server chain the limiter comes after tracing and
// recovery and before the handler:
//
//	tb, err := ratelimit.NewTokenBucket(100, 10)
//	...
//	grpc.NewServer(grpc.ChainUnaryInterceptor(recovery..., ratelimit.UnaryServerInterceptor(tb, ratelimit.WithKey(ratelimit.KeyPeer))))
//
// On a client the limiter comes before the circuit breaker, so that calls it
// refuses are not counted as the backend's failures. Client.WrapUnary links
// the two without the per-call closure of gRPC's chain; package stack does
// this for you.
package ratelimit
