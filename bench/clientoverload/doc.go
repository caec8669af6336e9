// Package clientoverload measures client-side overload protection when one
// of three backends starts failing: grpckit's adaptive throttling
// (breaker.Throttle), grpckit's circuit breaker (breaker.Group, gobreaker's
// state machine) and kratos aegis's SRE breaker (circuitbreaker/sre, a
// bench-only dependency that no library package imports), beside no
// protection.
//
// Each mechanism gets its own three greeter backends over loopback and one
// channel per backend, keyed by target, so each backend has its own
// breaker, as a client that routes each call to one backend (a shard, a
// session) has. Calls are driven open-loop at a fixed rate, one third to
// each backend, with a 1 s deadline. After a healthy warm-up, backend 0
// fails 90 % of its calls with Unavailable, then heals. All four
// mechanisms run side by side on the same clock.
//
// Measured per mechanism: the failing backend's load while it fails
// (calls that reached it, as a share of the calls aimed at it), the
// successes that were lost (calls a healthy backend or the failing
// backend's 10 % would have answered, refused or failed), and the recovery
// time: from the heal until the client refuses at most 10 % of the calls
// aimed at backend 0 over a second.
package clientoverload
