// Package breaker provides gRPC client interceptors that put a circuit
// breaker (github.com/sony/gobreaker/v2) in front of calls, so a client
// stops sending to a backend that keeps failing and fails fast instead,
// then probes it again after a while.
//
// Calls are grouped into breakers by a key: the full method by default,
// the connection's target with WithKey(ByTarget), or any KeyFunc. Each
// breaker is closed while calls succeed, opens when the trip condition holds
// (by default at least 60 % failures over at least 3 calls finished in a
// 10 s window), refuses every call for the open timeout (30 s), then lets
// at most MaxRequests (3) probes through half-open: that many successes
// close it, one failure opens it again.
//
// A refused call fails with codes.Unavailable and a message naming the
// method, e.g. "breaker: /greeter.v1.Greeter/SayHello: circuit open",
// without touching the network.
//
// Outcomes: errors with one of DefaultFailureCodes (Unavailable,
// DeadlineExceeded, Internal, Unknown, DataLoss, ResourceExhausted) are
// failures, other errors and nil are successes (the backend answered);
// WithFailureCodes or WithIsFailure change that. Cancellation by the caller
// (its context cancelled, or codes.Canceled) is neither: it is not counted
// and frees its half-open probe slot. An expired deadline on the caller's
// context is a failure, since a backend too slow to answer is what a
// breaker is for. A stream's outcome is recorded when it ends, so a failure
// in the middle of a stream counts; a stream the caller abandons is
// recorded when its context ends, with no goroutine kept per stream.
//
// State changes are logged, recorded as span events on the call's span
// (when it is recording) and as metrics (grpckit.breaker.state,
// grpckit.breaker.transitions, grpckit.breaker.rejections), and handed to
// the WithOnStateChange callback. gobreaker reports changes under its lock;
// this package delivers them after the lock is released, so the callback
// may call back into the Group.
//
// gobreaker reads the wall clock itself (time.Now) and offers no clock to
// inject; tests that step through open, half-open and closed run in a
// testing/synctest bubble, whose fake clock gobreaker sees too.
//
// Use New for a Group whose unary and stream interceptors share breakers
// and whose state can be read; the package-level UnaryClientInterceptor and
// StreamClientInterceptor each build their own Group.
package breaker
