package p2c_test

import (
	"fmt"
	"time"

	"github.com/grpckit/grpckit/balancer/p2c"
)

// The policy tuned to forget latency faster than the default and to charge
// failures 500ms, and a decay time too short to build. Pass lb.DialOption()
// to grpc.NewClient.
func ExamplePolicy() {
	lb, err := p2c.Policy(p2c.WithDecayTime(5*time.Second), p2c.WithErrorPenalty(500*time.Millisecond))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(lb.ServiceConfig())

	_, err = p2c.Policy(p2c.WithDecayTime(10 * time.Millisecond))
	fmt.Println(err)
	// Output:
	// {"loadBalancingConfig":[{"grpckit_p2c":{"decayTime":"5s","errorPenalty":"500ms"}}]}
	// p2c: invalid config {"decayTime":"10ms"}: decayTime 10ms is under 100ms: the estimate would be little more than the last sample
}
