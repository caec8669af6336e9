package consistenthash_test

import (
	"fmt"

	"github.com/grpckit/grpckit/balancer/consistenthash"
)

// The policy keyed by the x-user-id header with bounded loads, and a load
// factor the policy refuses. Pass lb.DialOption() to grpc.NewClient, with
// consistenthash.UnaryClientInterceptor when requests may lack a key.
func ExamplePolicy() {
	lb, err := consistenthash.Policy(consistenthash.WithHashHeader("x-user-id"), consistenthash.WithLoadFactor(1.25))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(lb.ServiceConfig())

	_, err = consistenthash.Policy(consistenthash.WithLoadFactor(0.8))
	fmt.Println(err)
	// Output:
	// {"loadBalancingConfig":[{"grpckit_consistent_hash":{"hashHeader":"x-user-id","loadFactor":1.25}}]}
	// consistenthash: loadFactor 0.8 must be 0 (unbounded) or in [1, 1000]
}
