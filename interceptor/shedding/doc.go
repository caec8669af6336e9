// Package shedding protects a gRPC server from overload with an adaptive
// limit that learns the server's capacity from what it observes, with
// nothing to configure: no rate, no concurrency, no latency target.
//
//	l := shedding.New()
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(shedding.UnaryServerInterceptor(l)),
//		grpc.ChainStreamInterceptor(shedding.StreamServerInterceptor(l)))
//
// Package stack puts one in every server stack (stack.WithShedding,
// stack.WithoutShedding). WrapUnary and WrapStream run another interceptor
// inside the limiter without gRPC's per-call chaining closure.
//
// # What it observes, and why
//
// A Go server whose CPUs are saturated does not queue calls in its
// interceptors: every call gets a goroutine at once, and the goroutines
// queue in the scheduler's run queue before any interceptor runs. A handler
// shorter than the scheduler's 10 ms time slice then keeps its CPU until it
// ends, so the calls in flight between an interceptor's entry and exit stay
// at about the number of CPUs however long the queue in front of them, and
// the handler's own latency barely moves: a limit on that count or that
// latency (what gradient and BBR-style limiters watch) cannot tell a
// saturated server with a long queue from a busy one without. The queue
// shows instead in how
// long the process's goroutines wait for a CPU, which the runtime measures
// (runtime/metrics, /sched/latencies:seconds), at no cost per call.
//
// So every 100 ms the Limiter compares that scheduling delay (the 90th
// percentile of the window's wake-ups) with what a call costs: the latency
// of the calls it admitted, but at most four times their CPU time (the
// process's CPU time over the window divided by the calls that ended in it),
// and at least 1 ms. Above it, and with the process keeping at least a
// quarter of its CPUs busy (GOMAXPROCS, read every window as the runtime
// follows the container's CPU limit; a server whose few calls wait behind
// another process's work gains nothing from shedding them), the server is
// overloaded. The cap matters for a call longer than the scheduler's time
// slice, or one that waits on its way: it is preempted and queues again, so
// its latency grows with the queue and would never be passed by it. Where
// the process's CPU time is not known (systems without getrusage), the
// latency alone is the cost, and calls in flight by Little's law stand for
// the busy CPUs.
//
// After two such windows in a row (one alone is more often a pause of the
// machine than a queue) the Limiter sets an admission rate, from Little's law again: the calls the server
// just completed per second are its capacity now, less what it takes to
// drain the queue found within half a second (at most half of it: a queue
// just over the target cuts the rate a little, a long one fast). While calls
// are still shed but the delay is back under the cost, the rate grows by
// up to 20 % a window, the more the shorter the queue; after a second with
// neither overload nor a shed call the Limiter stands down and admits
// everything again. A server that is not overloaded sheds nothing.
//
// While it sheds, a call whose deadline passed while it waited for a CPU is
// refused at once, without taking the turn of a call that can still succeed.
//
// Calls are admitted at the rate by the generic cell rate algorithm: one
// atomic compare-and-swap per call, no lock, no allocation. The
// criticality header is read only while shedding, and only for a call it
// decides (the schedule has room for some criticalities and not others);
// reading it costs one small allocation, as gRPC's metadata API copies the
// value, which a criticality set with WithCriticality does not. Unary calls and streams
// share the rate; a stream counts when it opens and, once admitted, is never
// cut short.
//
// # Who is shed first
//
// A call's Criticality decides: Sheddable calls are admitted only while the
// rate is not exceeded, Default calls may run ahead of it by the queueing
// delay the server tolerates (the calls' latency) or 8 calls, whichever is
// more, so that calls arriving at random below the rate are not shed;
// Critical ones by four times that. Under overload, sheddable calls go first
// and critical calls last. Clients set the CriticalityHeader metadata; a
// server interceptor chained before the limiter can decide with
// WithCriticality instead (after authentication, say). Health checks
// (grpc.health.v1) and server reflection are never shed nor counted: a shed
// health check would make a balancer or a registry take a busy server out
// and move its load to the others.
//
// # What a shed call gets
//
// codes.ResourceExhausted, naming the method, with the grpc-retry-pushback-ms
// trailer (ratelimit.PushbackTrailer, in the same form as package ratelimit
// sends it) set to the latency the server shows now: the calls' latency
// plus the scheduling delay, in whole milliseconds, at least 1 and at most
// 1000 (the limiter stands down after a quiet second, so a longer wait, the
// latency of long-polling calls say, would only keep clients from a server
// that has recovered). gRPC's retry policy and package ratelimit's client
// interceptors honour it.
//
// # Limits
//
// The scheduling delay is the whole process's: several servers in one
// process (or a client sharing it) shed together. A server overloaded by
// something other than its CPUs (a database that slows down) shows no
// scheduling delay and is not protected; a deadline on the downstream call
// and the client's breaker are the tools there. Stats returns the estimate,
// for dashboards and the overload benchmark (bench/overload).
package shedding
