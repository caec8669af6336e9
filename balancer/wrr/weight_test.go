package wrr

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/balancer"

	"github.com/grpckit/grpckit/balancer/internal/shard"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// namedPicker picks a result whose Metadata names the endpoint.
type namedPicker string

func (n namedPicker) Pick(balancer.PickInfo) (balancer.PickResult, error) {
	return balancer.PickResult{}, errNamed(n)
}

// errNamed carries the endpoint's name out of Pick.
type errNamed string

func (e errNamed) Error() string { return string(e) }

// shares picks n times from p and returns each endpoint's share.
func shares(t *testing.T, p balancer.Picker, n int) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for range n {
		_, err := p.Pick(balancer.PickInfo{Ctx: context.Background()})
		name, ok := err.(errNamed)
		if !ok {
			t.Fatalf("Pick: %v", err)
		}
		out[string(name)] += 1 / float64(n)
	}
	return out
}

// TestHugeWeightsAreCappedAndNeverWrap gives wrr weights above MaxWeight, one
// of which times the slow-start resolution (20) wraps a uint32 to 4. Both
// endpoints count as MaxWeight; the second, half way through its ramp, gets a
// third of the picks.
func TestHugeWeightsAreCappedAndNeverWrap(t *testing.T) {
	const window = 10 * time.Second
	now := int64(time.Hour)
	for _, huge := range []uint32{214748365, 1 << 31, 1<<32 - 1, kitresolver.MaxWeight + 1} {
		p := &policy{cfg: &Config{SlowStartWindow: shard.Duration(window)}}
		ready := []shard.Ready[struct{}]{
			{Addr: "a", Picker: namedPicker("a"), Weight: huge, ReadySince: 0},
			{Addr: "b", Picker: namedPicker("b"), Weight: kitresolver.MaxWeight, ReadySince: now - int64(window/2)},
		}
		picker, _ := p.Picker(ready, now)
		if got := shares(t, picker, 3000); got["b"] < 1.0/3-0.01 || got["b"] > 1.0/3+0.01 {
			t.Errorf("weights %d and %d (ramping, half way): shares %v, want b at 1/3", huge, kitresolver.MaxWeight, got)
		}
		// Without slow start the two weigh the same.
		p = &policy{cfg: &Config{}}
		picker, _ = p.Picker(ready, now)
		if got := shares(t, picker, 3000); got["a"] < 0.49 || got["a"] > 0.51 {
			t.Errorf("weights %d and %d: shares %v, want half each", huge, kitresolver.MaxWeight, got)
		}
	}
}
