package zoneaware_test

import (
	"fmt"

	"github.com/grpckit/grpckit/balancer/lbconfig"
	"github.com/grpckit/grpckit/balancer/p2c"
	"github.com/grpckit/grpckit/balancer/zoneaware"
)

// Zone-aware routing for a client in eu-1a, with p2c inside each zone, and
// a panic threshold the policy refuses. Pass lb.DialOption() to
// grpc.NewClient.
func ExamplePolicy() {
	lb, err := zoneaware.Policy(lbconfig.Must(p2c.Policy()), zoneaware.WithLocalZone("eu-1a"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(lb.ServiceConfig())

	_, err = zoneaware.Policy(lbconfig.RoundRobin(), zoneaware.WithPanicThreshold(50))
	fmt.Println(err)
	// Output:
	// {"loadBalancingConfig":[{"grpckit_zone_aware":{"localZone":"eu-1a","childPolicy":[{"grpckit_p2c":{}}]}}]}
	// zoneaware: panicThreshold 50 is outside [0, 1]
}
