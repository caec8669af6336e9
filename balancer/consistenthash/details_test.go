package consistenthash

import (
	"context"
	"fmt"
	"math"
	"testing"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/balancer/lbinfo"
	"github.com/grpckit/grpckit/internal/testutil"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestEndpointDetails: the published picker tells each endpoint's share of
// the table, which is the part of the slots it owns, near its weighted
// share, and which adds up to 1; asking again gives the same.
func TestEndpointDetails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	cc, b := buildBalancer(t)
	const size = 4096
	cfg, err := parseConfig([]byte(fmt.Sprintf(`{"ringSize":%d}`, size)))
	if err != nil {
		t.Fatal(err)
	}
	weights := []uint32{1, 3, 4}
	var insts []kitresolver.Instance
	for i, w := range weights {
		insts = append(insts, kitresolver.Instance{Service: "greeter", Addr: fmt.Sprintf("127.0.0.%d:50051", i+1), Weight: w})
	}
	s := balancer.ClientConnState{ResolverState: resolver.State{Endpoints: kitresolver.Endpoints(insts)}, BalancerConfig: cfg}
	if err := b.UpdateClientConnState(s); err != nil {
		t.Fatal(err)
	}
	cc.SetAllReady()
	p := waitPicker(ctx, t, cc, connectivity.Ready)
	d, ok := p.(lbinfo.EndpointDetailer)
	if !ok {
		t.Fatalf("picker %T does not implement lbinfo.EndpointDetailer", p)
	}
	got := d.EndpointDetails()
	if len(got) != len(weights) {
		t.Fatalf("details %+v, want one per endpoint", got)
	}
	owned := map[string]int{}
	tab := p.(*picker).table
	for s := range uint32(tab.size()) {
		owned[tab.eps[tab.owner(s)].addr]++
	}
	sum := 0.0
	for i, det := range got {
		if det.Addr != insts[i].Addr {
			t.Errorf("detail %d is of %q, want %q", i, det.Addr, insts[i].Addr)
		}
		if want := float64(owned[det.Addr]) / size; det.Weight != want {
			t.Errorf("%s: weight %v, want its share of the slots %v", det.Addr, det.Weight, want)
		}
		if want := float64(weights[i]) / 8; math.Abs(det.Weight-want) > 3*math.Sqrt(3.0/size) {
			t.Errorf("%s: share %v, far from its weighted share %v", det.Addr, det.Weight, want)
		}
		sum += det.Weight
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Errorf("shares add up to %v, want 1", sum)
	}
	again := d.EndpointDetails()
	for i := range got {
		if again[i] != got[i] {
			t.Errorf("second call: %+v, first %+v", again[i], got[i])
		}
	}
}
