package scale

import (
	"testing"

	"github.com/grpckit/grpckit/bench/internal/fakecc"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestResolverFollowsToggle checks the benchmark's helpers: the resolver
// sees the seeded instances, then each toggle.
func TestResolverFollowsToggle(t *testing.T) {
	ctx := benchContext(t)
	cli := seed(t, ctx, 250)
	cc := watchResolver(t, ctx, cli, 250)
	for i, want := range []int{251, 250, 251} {
		if got := toggle(t, ctx, cli, 250, i); got != want {
			t.Fatalf("toggle %d: %d instances, want %d", i, got, want)
		}
		waitEndpoints(t, ctx, cc, want)
	}
}

func TestTwoStates(t *testing.T) {
	s := twoStates(5)
	if len(s[0]) != 5 || len(s[1]) != 5 {
		t.Fatalf("lengths %d, %d, want 5", len(s[0]), len(s[1]))
	}
	first := func(i int) uint32 { return kitresolver.WeightOf(s[i][0]) }
	if first(0) != 1 || first(1) != 2 {
		t.Errorf("first endpoint weights %d, %d, want 1, 2", first(0), first(1))
	}
	if got := s[1][4].Addresses[0].Addr; got != fakecc.AddrOf(4) {
		t.Errorf("last endpoint %s, want %s", got, fakecc.AddrOf(4))
	}
}
