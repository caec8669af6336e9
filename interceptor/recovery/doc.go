// Package recovery turns a panic in a gRPC handler into an error instead of a
// crashed server.
//
// UnaryServerInterceptor and StreamServerInterceptor recover a panic raised
// by the handler (or by an interceptor after them in the chain) and answer
// the call with codes.Internal and a generic message: the panic value and the
// stack go to the log (grpclog component "grpckit-recovery"), never to the
// client, since they may hold details an attacker should not see.
// WithHandler replaces that behaviour. WrapUnary and WrapStream put
// another interceptor under the same recovery without a link of gRPC's
// chain, which allocates a closure per call.
//
// A handler that calls runtime.Goexit (t.FailNow in a test server, for
// one) is answered like a panic, with ErrGoexit as the Panic's value:
// Goexit cannot be stopped, so the status is written to the call's
// transport stream directly before the goroutine ends; without that the
// client would wait for its deadline.
//
// Only the handler's own goroutine is covered: a panic in a goroutine the
// handler starts still ends the process. Place recovery just inside tracing,
// so the span records the Internal status, and outside the rate limiter and
// breaker.
package recovery
