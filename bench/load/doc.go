// Package load drives a greeter server over loopback from a closed loop of
// concurrent callers and measures throughput and latency, with and without
// grpckit's interceptor stack (package interceptor/stack), so the report can
// give what the stack costs end to end: QPS and p50/p99 ratios.
//
// Client and server run in one process and share the machine's cores, as in
// the unary RPC benchmarks; the variants take turns in short rounds so that
// a change in the machine's other load hits them alike.
package load
