// Package greeterv1 is the generated Go code of greeter.proto: the
// greeter.v1.Greeter service grpckit's examples, demo and tests serve.
//
// The service has one method of each kind gRPC offers, so that interceptors
// and balancers are exercised on all of them: SayHello (unary),
// SayHelloStream (server streaming), SayHelloClientStream (client streaming)
// and SayHelloBidi (bidirectional). Every reply carries a Greeting naming the
// instance that answered (its id, address and zone), which is how the tests
// and the demo see where a balancer sent each call.
//
// Regenerate with `make generate` (buf with local plugins); this file is the
// only one here written by hand.
package greeterv1
