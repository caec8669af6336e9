package wrr

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSlotIsRemainder checks the division-free remainder against % for
// schedule lengths from 1 to maxPeriod and counters across the whole uint32
// range, its ends and wrap-around included.
func TestSlotIsRemainder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	lengths := []int{1, 2, 3, 7, 10, 100, 1000, 65535, maxPeriod}
	for range 200 {
		lengths = append(lengths, 1+r.IntN(maxPeriod))
	}
	for _, n := range lengths {
		p := &picker{schedule: make([]uint32, n), recip: modRecip(n)}
		is := []uint32{0, 1, uint32(n - 1), uint32(n), uint32(n + 1), math.MaxUint32, math.MaxUint32 - 1, math.MaxUint32 - uint32(n)}
		for range 1000 {
			is = append(is, r.Uint32())
		}
		for _, i := range is {
			if got, want := p.slot(i), i%uint32(n); got != want {
				t.Fatalf("slot(%d) with %d slots = %d, want %d", i, n, got, want)
			}
		}
	}
}
