package consistenthash

import (
	"math/rand/v2"
	"testing"
)

// owners returns the address owning each slot of t.
func owners(t *table) []string {
	o := make([]string, t.size())
	for s := range o {
		o[s] = t.eps[t.owner(uint32(s))].addr
	}
	return o
}

// TestTableByteBoundary grows 255 -> 256 -> 257 endpoints and back, across
// the byte/uint16 slot boundary, with the endpoints given in shuffled order:
// each step moves only slots to or from the changed endpoint, and the same
// set of endpoints always builds the same table.
func TestTableByteBoundary(t *testing.T) {
	all := testEndpoints(257)
	const size = 1 << 14
	build := func(n int) []string {
		eps := append([]tableEndpoint(nil), all[:n]...)
		rand.Shuffle(len(eps), func(i, j int) { eps[i], eps[j] = eps[j], eps[i] })
		sortEndpoints(eps)
		return owners(newTable(eps, size))
	}
	steps := []int{255, 256, 257, 256, 255}
	prev := build(steps[0])
	first := map[int][]string{steps[0]: prev}
	prevN := steps[0]
	for _, n := range steps[1:] {
		cur := build(n)
		if f, ok := first[n]; ok {
			for s := range cur {
				if cur[s] != f[s] {
					t.Fatalf("%d endpoints: slot %d owner %s, earlier %s", n, s, cur[s], f[s])
				}
			}
		}
		first[n] = cur
		// testEndpoints sorts by address, so the changed endpoint is the
		// last of the larger set.
		changed := all[max(n, prevN)-1].addr
		moved := 0
		for s := range cur {
			if cur[s] != prev[s] {
				moved++
			}
			if cur[s] != prev[s] && cur[s] != changed && prev[s] != changed {
				t.Fatalf("%d endpoints: slot %d moved %s -> %s, not to or from %s", n, s, prev[s], cur[s], changed)
			}
		}
		if moved == 0 {
			t.Fatalf("%d endpoints: no slot moved to or from %s", n, changed)
		}
		prev, prevN = cur, n
	}
}
