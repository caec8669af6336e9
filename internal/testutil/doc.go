// Package testutil holds fakes of grpc-go's balancer.ClientConn and
// resolver.ClientConn for unit tests of grpckit's balancers and resolvers, and
// constants shared by the tests.
//
// The fakes expose what the code under test did as channels (pickers, states,
// errors, new SubConns) so a test can wait for an event with a deadline instead
// of sleeping. Each channel keeps only the newest values when nobody reads:
// a send never blocks the code under test.
package testutil

import "time"

// DefaultTimeout bounds how long a test waits for something that should happen.
const DefaultTimeout = 10 * time.Second

// ShortTimeout bounds how long a test waits to be sure something does not happen.
const ShortTimeout = 100 * time.Millisecond
