// Package breaker provides gRPC client interceptors that put a circuit
// breaker in front of calls, so a client stops sending to a backend that
// keeps failing and fails fast instead, then probes it again after a while.
//
// Calls are grouped into breakers by a key: the full method by default,
// the connection's target with WithKey(ByTarget), or any KeyFunc. Each
// breaker is closed while calls succeed, opens when the trip condition holds,
// refuses every call for the open timeout (30 s), then lets at most
// MaxRequests (3) probes through half-open: that many successes close it,
// one failure opens it again.
//
// # The default trip condition: the last resort behind outlier ejection
//
// A breaker keyed by method covers every backend of the service, while a
// channel with the grpckit_outlier_ejection policy (balancer/outlier) takes
// failing backends out one by one:
//
//	{"loadBalancingConfig":[{"grpckit_outlier_ejection":{"childPolicy":[{"round_robin":{}}]}}]}
//
// The two compose when the breaker opens only for what ejection cannot
// mend, so by default a closed breaker opens when, over its 10 s window:
//
//  1. at least 20 calls finished (DefaultMinRequests) and at least half of
//     them failed (DefaultFailureRatio), as in Hystrix;
//  2. the backends that failed at least once are more than half of the
//     backends that answered (DefaultSpread): failures confined to half of
//     the backends or fewer (one bad among two or three, two among four)
//     are left to ejection, which removes up to half of the endpoints by
//     default, however many calls they failed;
//  3. and, when a single backend answered in the window, its failures have
//     lasted 3 s (DefaultLoneFor): it may be the only backend, which the
//     breaker is for, or merely the first of several to connect after a
//     start or a resolver update, taking every call until the others are
//     READY and ejection removes it.
//
// So one bad backend among three never opens the breaker, whether it fails
// from the start or later, and calls go on to the healthy ones while
// ejection removes it; the breaker opens when every backend, or most of
// them, fail, and when the only backend has failed for 3 s. Backends are
// told apart by the peer address of each counted call, up to 16 in a
// window; with more in the window the rule stands aside and the trip
// condition alone decides (one bad backend among that many draws too small
// a share of the calls to reach 50 % under round robin, wrr or outlier
// ejection). WithSpread changes or turns off rules 2 and 3; a trip condition
// given by WithFailureRatio, WithConsecutiveFailures or WithReadyToTrip
// replaces all three unless WithSpread is given too. Without ejection on
// the channel, the rules still keep one bad backend among several from
// opening the breaker, and the balancer keeps sending it its share.
//
// A refused call fails with codes.Unavailable and a message naming the
// method, e.g. "breaker: /greeter.v1.Greeter/SayHello: circuit open",
// without touching the network.
//
// Only outcomes of calls that reached a backend count. A call counts if
// gRPC gave it a transport stream (for unary calls the interceptor learns
// this from a grpc.Peer call option it adds) and it did not fail on this
// side before sending; then errors with one of DefaultFailureCodes
// (Unavailable, DeadlineExceeded, Internal, Unknown, DataLoss,
// ResourceExhausted) are failures, other errors and nil are successes (the
// backend answered); WithFailureCodes or WithIsFailure change that. These
// are never counted, and free a half-open probe slot:
//
//   - a call whose context had ended before it began (it is not even
//     admitted, nor refused);
//   - no transport stream: the resolver returned no endpoints or an error,
//     no connection is READY, the picker or the per-RPC credentials failed,
//     or the caller's deadline passed while waiting for a connection;
//   - the request failed on this side: it did not marshal, or is larger
//     than MaxCallSendMsgSize (for unary calls recognised by gRPC's
//     message; a stream's SendMsg error other than io.EOF is always
//     this side's), or the invoker panicked;
//   - a reply this side could not take: larger than MaxCallRecvMsgSize
//     (before or after decompression) or not unmarshalled, recognised by
//     gRPC's message (a backend refusing a request over its own receive
//     limit answers with the same message, and is not counted either);
//   - cancellation by the caller (its context cancelled, or
//     codes.Canceled).
//
// An expired deadline on a call that reached the network is a failure,
// since a backend too slow to answer is what a breaker is for.
//
// An outcome counts in the window current when the call ends, however long
// ago it began, so calls longer than the window count; it counts only if
// the breaker is still in the state that admitted the call (a call admitted
// while closed that ends after the breaker opened is not counted). A
// stream's outcome is recorded when it ends, so a failure in the middle of
// a stream counts; a stream the caller abandons is recorded when its
// context ends, with no goroutine kept per stream. A stream admitted as a
// half-open probe is decided at its first response (header or message),
// which frees its slot; its later end still counts, in the closed state
// that followed or, if it fails while the breaker is still half-open, by
// opening it.
//
// State changes are logged, recorded as span events on the call's span
// (when it is recording) and as metrics (grpckit.breaker.state,
// grpckit.breaker.transitions, grpckit.breaker.rejections), and handed to
// the WithOnStateChange callback. gobreaker reports changes under its lock;
// this package delivers them after the lock is released, so the callback
// may call back into the Group.
//
// The state machine follows gobreaker's (its states, Counts and refusals)
// but is this package's own: gobreaker forgets outcomes of calls that began
// a window ago and holds a probe slot until the call ends. It reads the
// wall clock (time.Now); tests that step through open, half-open and
// closed run in a testing/synctest bubble.
//
// A Group holds at most MaxKeys breakers and forgets idle closed ones; see
// Group, WithMaxKeys and WithIdleTimeout.
//
// # Adaptive throttling
//
// Instead of opening and closing, a Group built with
// WithAdaptiveThrottling (or a Throttle from NewThrottle) refuses calls
// locally with a probability that grows as backends accept fewer of them
// (Google SRE's client-side adaptive throttling; see Throttling): nothing
// to tune, no 30 s of refusals after a blip, and a failing backend still
// sees a trickle of calls that tells the client when it has healed. It
// counts outcomes as the breaker does (above); the options of the state
// machine (WithSpread, WithFailureRatio, WithReadyToTrip, WithOpenTimeout
// and the like) are refused beside it at construction.
//
// Use New for a Group whose unary and stream interceptors share breakers
// and whose state can be read; the package-level UnaryClientInterceptor and
// StreamClientInterceptor each build their own Group.
package breaker
