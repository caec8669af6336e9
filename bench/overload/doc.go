// Package overload is the loopback overload run of the report: a greeter
// whose handler costs a fixed amount of CPU work per call is driven open
// loop (Poisson arrivals that do not wait for replies) at 0.5×, 1×, 2× and
// 4× the capacity measured first, every call with a 1 s deadline, behind
// four protections side by side: none, a token bucket set to the measured
// capacity (package interceptor/ratelimit, the best a person could tune),
// go-kratos aegis's BBR limiter, and grpckit's adaptive limiter (package
// interceptor/shedding), which is given no configuration. A second run
// doubles the handler's cost midway, halving the capacity, and records
// grpckit's limit over time.
//
// Each protection's server runs in a child process (the same binary, see
// MaybeServe) for the whole run, as a server in service runs through changes
// of load, so that the load generator's goroutines do not share its Go
// scheduler; client and servers share the machine's cores. The token bucket
// is retuned to each new measurement of the capacity. The capacity is measured again
// before each load, and the protections take turns at each load, so that a
// change in the machine's other load hits them alike. aegis is a dependency of this benchmark only:
// no library package imports it.
package overload
