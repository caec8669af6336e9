package greeterapp_test

import (
	"fmt"

	"github.com/grpckit/grpckit/examples/internal/greeterapp"
)

func ExamplePolicy() {
	lb, err := greeterapp.Policy("zoneaware", "eu-1a")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(lb.ServiceConfig())
	_, err = greeterapp.Policy("random", "")
	fmt.Println(err)
	// Output:
	// {"loadBalancingConfig":[{"grpckit_zone_aware":{"localZone":"eu-1a","childPolicy":[{"grpckit_weighted_round_robin":{}}]}}]}
	// greeterapp: unknown balancer "random" (want one of round_robin, wrr, consistenthash, p2c, zoneaware, outlier)
}
