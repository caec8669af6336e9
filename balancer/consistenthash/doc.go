// Package consistenthash is a gRPC load-balancing policy that sends requests
// with the same key to the same backend: consistent hashing over a table of
// weighted rendezvous winners, optional bounded loads, and affinity that
// survives backends flapping and the fleet growing or shrinking.
//
// Select it with the service config Policy builds, checked by the policy's
// parser (see package lbconfig), and give requests a key, either per call
// with WithKey or through a metadata header named in the config:
//
//	lb, err := consistenthash.Policy(consistenthash.WithHashHeader("x-user-id"), consistenthash.WithLoadFactor(1.25))
//	...
//	conn, err := grpc.NewClient(target, grpc.WithResolvers(b), lb.DialOption())
//
// In JSON it is
// {"loadBalancingConfig":[{"grpckit_consistent_hash":{"hashHeader":"x-user-id","loadFactor":1.25}}]};
// see LBConfig for every field.
//
// A key's hash selects one of ringSize slots. The table gives every slot to
// one endpoint, chosen among all the endpoints the resolver reports, whatever
// their state, by a weighted race in which each endpoint's time depends only
// on its own address and weight. So the owner of a key depends only on the
// endpoints and their weights (and ringSize), clients with the same endpoints
// agree on it, and adding, removing or reweighting one endpoint moves only
// keys to or from that endpoint, at every fleet size. A key whose owner is not
// READY goes to the winner of a weighted rendezvous among the READY
// endpoints, and returns when the owner is READY again; keys of READY owners
// do not move. With loadFactor c > 0, no endpoint takes more than c times its
// weighted share of the requests in flight: a request that would exceed it
// goes on to the owners of the next slots. A request without a key goes to a
// random READY endpoint, or fails with InvalidArgument when missingKey is
// "fail".
//
// Balance and memory: an endpoint's share of the table is within about
// 2.5·sqrt(N/ringSize) of its weighted share, N being the number of
// endpoints of equal weight (measured max/mean 1.024 at 100 endpoints with
// the default 2^19 slots, 1.042 at 1000 with 2^22). The table costs 1 byte a
// slot up to 256 endpoints and 2 beyond (512 KiB per channel by default, 1
// MiB beyond 256 endpoints), whatever the weights; building it makes about 15
// draws a slot and happens when the endpoints or their weights change, never
// when they change state. A key whose owner is not READY costs one hash per
// endpoint to route. See table.go for the design, its numbers and the
// alternatives.
//
// An endpoint is known by its first address: endpoints that share one share
// a table entry, served by one of them that is READY. Pick never loops
// unbounded: the fallback visits each endpoint once, the bounded-load walk
// each slot once.
//
// The picker implements lbinfo.EndpointDetailer for debug pages (debugz):
// each endpoint's Weight there is its share of the table's slots, the part
// of the keys it owns, counted once per table when a page first asks.
//
// Weights come from the endpoints' attributes (see
// github.com/grpckit/grpckit/resolver.WeightOf), so the policy also works
// behind grpc-go's own resolvers.
package consistenthash
