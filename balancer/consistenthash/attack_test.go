package consistenthash

import (
	"context"
	"math"
	"strings"
	"testing"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/metadata"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestPickerOneReady checks that with every endpoint but one down, every key
// goes to the READY one, whatever the weights (1 and the maximum mixed).
func TestPickerOneReady(t *testing.T) {
	eps := testEndpoints(300)
	for i := range eps {
		if i%2 == 0 {
			eps[i].weight = kitresolver.MaxWeight
		}
	}
	p := newTestPicker(newTable(eps, DefaultRingSize), LBConfig{})
	const up = 7 // weight 1
	for i := range p.eps {
		p.setReady(i, i == up)
	}
	for k, ctx := range keyContexts(2000) {
		if i, _ := pickIndex(t, p, ctx); i != up {
			t.Fatalf("key %d went to %d, want the only READY endpoint %d", k, i, up)
		}
	}
}

// TestPickerBoundedMinimumFactor picks with the smallest loadFactor, mixed
// weights 1 and the maximum, and no Done: every Pick returns and charges an
// endpoint within its bound.
func TestPickerBoundedMinimumFactor(t *testing.T) {
	eps := testEndpoints(20)
	for i := range eps {
		if i%3 == 0 {
			eps[i].weight = kitresolver.MaxWeight
		}
	}
	p := newTestPicker(newTable(eps, MinRingSize), LBConfig{LoadFactor: 1})
	for k, ctx := range keyContexts(5000) {
		res, err := p.Pick(balancer.PickInfo{Ctx: ctx})
		if err != nil {
			t.Fatalf("key %d: Pick: %v", k, err)
		}
		if res.Done == nil {
			t.Fatalf("key %d: Pick charged no endpoint with nothing concurrent", k)
		}
	}
	total := float64(p.inflight.Load())
	for i := range p.eps {
		bound := math.Ceil(total * p.eps[i].weight / p.readyW)
		if n := float64(p.eps[i].load.n.Load()); n > bound {
			t.Errorf("endpoint %d (weight %v) holds %v, bound %v", i, p.eps[i].weight, n, bound)
		}
	}
}

// TestPickerHostileHeader checks header keys that are empty, many-valued or
// huge: Pick succeeds and routes as WithKey of the values joined by ",".
func TestPickerHostileHeader(t *testing.T) {
	p := newTestPicker(newTable(testEndpoints(50), MinRingSize), LBConfig{HashHeader: "x-key"})
	many := make([]string, 1000)
	for i := range many {
		many[i] = string(rune('a' + i%26))
	}
	huge := strings.Repeat("\x00\xff,é", 1<<18)
	for _, vals := range [][]string{{""}, {"", ""}, many, {huge}, {"a,b"}} {
		md := metadata.MD{"x-key": vals}
		ctx := metadata.NewOutgoingContext(context.Background(), md)
		got, _ := pickIndex(t, p, ctx)
		want, _ := pickIndex(t, p, WithKey(context.Background(), strings.Join(vals, ",")))
		if got != want {
			t.Errorf("%d values of %d bytes: header picked %d, WithKey of the joined values %d", len(vals), len(strings.Join(vals, ",")), got, want)
		}
	}
}
