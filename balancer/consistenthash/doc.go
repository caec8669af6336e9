// Package consistenthash is a gRPC load-balancing policy that sends requests
// with the same key to the same backend: a consistent-hash ring with virtual
// nodes proportional to weight, optional bounded loads, and affinity that
// survives backends flapping.
//
// Select it by Name in the service config and give requests a key, either per
// call with WithKey or through a metadata header named in the config:
//
//	grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"grpckit_consistent_hash":{"hashHeader":"x-user-id","loadFactor":1.25}}]}`)
//
// The ring holds every endpoint the resolver reports, whatever its state, so
// the owner of a key depends only on the set of endpoints and their weights
// (and the configured ringSize), and clients with the same endpoints agree on
// it. A key whose owner is not READY goes to the next READY owner on the ring
// and returns when the owner is READY again; removing an endpoint moves only
// that endpoint's keys. With loadFactor c > 0, no endpoint takes more than c
// times its weighted share of the requests in flight: a request that would
// exceed it walks on along the ring. A request without a key goes to a random
// READY endpoint, or fails with InvalidArgument when missingKey is "fail".
//
// See LBConfig for the configuration, and ring.go for why a ring rendered into
// a table rather than Maglev. Weights come from the endpoints' attributes (see
// github.com/grpckit/grpckit/resolver.WeightOf), so the policy also works
// behind grpc-go's own resolvers.
package consistenthash
