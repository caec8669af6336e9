// Package resolver holds what grpckit's registry backends share: the Instance a
// server announces, its validation, and the typed endpoint attributes that carry
// an Instance from a resolver to a balancer.
//
// The backends live in the subpackages: resolver/etcd serves targets of the
// form etcd:///<service> and resolver/consul serves consul://[agent]/<service>.
// Both publish resolver.State.Endpoints sorted by address, each endpoint
// carrying its Instance (see SetInstance and InstanceFrom) and grpc-go's own
// weight attribute, so grpckit's balancers and grpc-go's weighted policies both
// see the registry's weights.
package resolver
