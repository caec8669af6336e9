package lbconfig_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/grpckit/grpckit/balancer/lbconfig"
	"github.com/grpckit/grpckit/balancer/outlier"
	"github.com/grpckit/grpckit/balancer/p2c"
	"github.com/grpckit/grpckit/balancer/zoneaware"
)

// A parent with a child, each with its own options: zone-aware routing over
// outlier ejection over p2c. A bad value is reported by the builder of the
// policy that has it, naming the field.
func Example() {
	child, err := p2c.Policy(p2c.WithDecayTime(5 * time.Second))
	if err != nil {
		fmt.Println(err)
		return
	}
	ejecting, err := outlier.Policy(child, outlier.WithConsecutiveFailures(3))
	if err != nil {
		fmt.Println(err)
		return
	}
	lb, err := zoneaware.Policy(ejecting, zoneaware.WithLocalZone("eu-1a"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(lb.ServiceConfig())
	// lb.DialOption() goes to grpc.NewClient.

	_, err = outlier.Policy(child, outlier.WithInterval(time.Millisecond))
	fmt.Println(err)
	// Output:
	// {"loadBalancingConfig":[{"grpckit_zone_aware":{"localZone":"eu-1a","childPolicy":[{"grpckit_outlier_ejection":{"consecutiveFailures":3,"childPolicy":[{"grpckit_p2c":{"decayTime":"5s"}}]}}]}}]}
	// outlier: interval 1ms is under 100ms: a sweep of every endpoint that often costs CPU and judges failure rates on too few calls
}

// A service config with more than the policy in it: a Policy marshals to its
// loadBalancingConfig entry, so it goes into a struct of the caller's with a
// retry policy beside it. Pass the string to grpc.WithDefaultServiceConfig.
func ExamplePolicy_ServiceConfig() {
	type retryPolicy struct {
		MaxAttempts          int      `json:"maxAttempts"`
		InitialBackoff       string   `json:"initialBackoff"`
		MaxBackoff           string   `json:"maxBackoff"`
		BackoffMultiplier    float64  `json:"backoffMultiplier"`
		RetryableStatusCodes []string `json:"retryableStatusCodes"`
	}
	type methodConfig struct {
		Name        []map[string]string `json:"name"`
		RetryPolicy retryPolicy         `json:"retryPolicy"`
	}
	sc, err := json.Marshal(struct {
		LB      []lbconfig.Policy `json:"loadBalancingConfig"`
		Methods []methodConfig    `json:"methodConfig"`
	}{
		LB: []lbconfig.Policy{lbconfig.Must(p2c.Policy())},
		Methods: []methodConfig{{
			Name:        []map[string]string{{"service": "greeter.v1.Greeter"}},
			RetryPolicy: retryPolicy{3, "0.1s", "1s", 2, []string{"UNAVAILABLE"}},
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(sc))
	// Output:
	// {"loadBalancingConfig":[{"grpckit_p2c":{}}],"methodConfig":[{"name":[{"service":"greeter.v1.Greeter"}],"retryPolicy":{"maxAttempts":3,"initialBackoff":"0.1s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}}]}
}
