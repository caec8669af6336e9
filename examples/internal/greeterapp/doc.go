// Package greeterapp wires grpckit's pieces into the example greeter server
// and client, so that the command-line examples and the demo share one
// readable version of the recommended set-up.
//
// A server (Start) listens, serves greeter.v1.Greeter, grpc.health.v1 and
// server reflection behind the recommended server interceptor stack
// (interceptor/stack), and registers itself in etcd or Consul. Its Shutdown
// follows the order that lets clients drain it: NOT_SERVING, deregister, wait
// for the resolvers to drop it, GracefulStop.
//
// A client (Dial) resolves etcd:///greeter or consul:///greeter with
// grpckit's resolvers, balances with the policy Policy builds and
// calls through the recommended client stack.
package greeterapp
