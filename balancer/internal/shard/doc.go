// Package shard is the balancer skeleton grpckit's per-endpoint policies
// (balancer/wrr and balancer/p2c) share: grpc-go's endpointsharding with a
// pickfirst child per endpoint, per-endpoint state that outlives pickers, the
// time each endpoint last became READY (for slow start), and timed picker
// rebuilds while a policy asks for them.
//
// A policy supplies a Policy; the Balancer calls it under its mutex to create
// state for new endpoints and to build an immutable picker over the READY
// endpoints, sorted by address. When no endpoint is READY the Balancer
// publishes endpointsharding's own picker, which follows the picker error
// contract (ErrNoSubConnAvailable while connecting, the connection error in
// TRANSIENT_FAILURE).
package shard
