package outlier_test

import (
	"fmt"
	"time"

	"github.com/grpckit/grpckit/balancer/lbconfig"
	"github.com/grpckit/grpckit/balancer/outlier"
	"github.com/grpckit/grpckit/balancer/wrr"
)

// Outlier ejection over wrr, ejecting after three failures in a row for at
// least five seconds, and a configuration the policy refuses. Pass
// lb.DialOption() to grpc.NewClient.
func ExamplePolicy() {
	lb, err := outlier.Policy(lbconfig.Must(wrr.Policy()),
		outlier.WithConsecutiveFailures(3), outlier.WithBaseEjectionTime(5*time.Second))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(lb.ServiceConfig())

	_, err = outlier.Policy(lbconfig.RoundRobin(), outlier.WithMaxEjectionPercent(150))
	fmt.Println(err)
	// Output:
	// {"loadBalancingConfig":[{"grpckit_outlier_ejection":{"consecutiveFailures":3,"baseEjectionTime":"5s","childPolicy":[{"grpckit_weighted_round_robin":{}}]}}]}
	// outlier: maxEjectionPercent 150 is over 100
}
