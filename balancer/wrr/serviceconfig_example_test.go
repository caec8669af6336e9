package wrr_test

import (
	"fmt"
	"time"

	"github.com/grpckit/grpckit/balancer/wrr"
)

// The policy with slow start, and a window too short to build. Pass
// lb.DialOption() to grpc.NewClient.
func ExamplePolicy() {
	lb, err := wrr.Policy(wrr.WithSlowStartWindow(30 * time.Second))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(lb.ServiceConfig())

	_, err = wrr.Policy(wrr.WithSlowStartWindow(100 * time.Millisecond))
	fmt.Println(err)
	// Output:
	// {"loadBalancingConfig":[{"grpckit_weighted_round_robin":{"slowStartWindow":"30s"}}]}
	// wrr: invalid config {"slowStartWindow":"100ms"}: slowStartWindow 100ms is under 1s: too short to warm anything (0 turns slow start off)
}
