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
//
// Both also share how they publish (Publisher): the last good set stays in
// service through registry errors, and an error reaches the channel only
// while no set was ever published. With a snapshot directory
// (etcd.WithSnapshotDir, consul.WithSnapshotDir) the last good set is also
// kept in a file, one per target; a client that starts while its registry is
// unreachable serves that set, marked stale (IsStale), until the registry
// first answers. The registry's empty answer is kept too, so a cold start
// after a scale to zero serves nothing rather than servers that are gone, and
// a snapshot older than its maximum age (DefaultSnapshotMaxAge, or
// etcd.WithSnapshotMaxAge) is not served; while the registry answers, a
// client keeps its snapshot's time fresh, so the age counts from about the
// last time the registry was seen working.
//
// Weights reach balancers in [1, MaxWeight]: SetInstance caps a larger one,
// and WeightOf reads it.
package resolver
