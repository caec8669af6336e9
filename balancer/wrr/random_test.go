package wrr

import (
	"fmt"
	"testing"

	"google.golang.org/grpc/balancer"

	"github.com/grpckit/grpckit/balancer/internal/policytest"
)

// TestRandomUpdates runs the policy through policytest's random update
// sequences, checking besides its invariants that every picker's schedule
// is one period over its children.
func TestRandomUpdates(t *testing.T) {
	policytest.Run(t, policytest.Spec{
		Name:    Name,
		Configs: []string{`{}`, `{"slowStartWindow":"1s"}`},
		Check: func(p balancer.Picker, _ int) error {
			pk, ok := p.(*picker)
			if !ok {
				return nil
			}
			if len(pk.schedule) == 0 || len(pk.schedule) > maxPeriod {
				return fmt.Errorf("schedule of %d picks, want 1 to %d", len(pk.schedule), maxPeriod)
			}
			seen := make([]bool, len(pk.children))
			for _, i := range pk.schedule {
				if int(i) >= len(pk.children) {
					return fmt.Errorf("schedule names child %d of %d", i, len(pk.children))
				}
				seen[i] = true
			}
			for i, ok := range seen {
				if !ok {
					return fmt.Errorf("READY child %d is never picked in a period of %d", i, len(pk.schedule))
				}
			}
			return nil
		},
	}, policytest.Options{})
}
