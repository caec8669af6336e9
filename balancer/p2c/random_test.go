package p2c

import (
	"fmt"
	"math"
	"testing"

	"google.golang.org/grpc/balancer"

	"github.com/grpckit/grpckit/balancer/internal/policytest"
)

// TestRandomUpdates runs the policy through policytest's random update
// sequences, checking besides its invariants that in-flight counts never go
// negative, never exceed the picks not yet done and return to zero, and that
// every estimate stays finite.
func TestRandomUpdates(t *testing.T) {
	eps := func(p balancer.Picker) []endpoint {
		if pk, ok := p.(*picker); ok {
			return pk.eps
		}
		return nil
	}
	policytest.Run(t, policytest.Spec{
		Name:    Name,
		Configs: []string{`{}`, `{"decayTime":"100ms","errorPenalty":"0s"}`, `{"decayTime":"1h","slowStartWindow":"1s"}`},
		Check: func(p balancer.Picker, outstanding int) error {
			var sum int64
			for i, e := range eps(p) {
				n := e.stats.inflight.Load()
				if n < 0 {
					return fmt.Errorf("endpoint %d has %d in flight", i, n)
				}
				if est := e.stats.estimate(e.stats.params.Load().now()); math.IsNaN(est) || math.IsInf(est, 0) {
					return fmt.Errorf("endpoint %d estimate %g", i, est)
				}
				sum += n
			}
			if sum > int64(outstanding) {
				return fmt.Errorf("%d in flight, but only %d picks not done", sum, outstanding)
			}
			return nil
		},
		Done: func(p balancer.Picker) error {
			for i, e := range eps(p) {
				if n := e.stats.inflight.Load(); n != 0 {
					return fmt.Errorf("endpoint %d has %d in flight after every pick was done", i, n)
				}
			}
			return nil
		},
	}, policytest.Options{})
}
