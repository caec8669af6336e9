package wrr

import (
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// nginx is the reference: nginx's smooth weighted round robin walked step by
// step over one period, O(n) a step.
func nginx(weights []int64) []uint32 {
	var total int64
	for _, w := range weights {
		total += w
	}
	cur := make([]int64, len(weights))
	var out []uint32
	for range total {
		best := 0
		for i, w := range weights {
			cur[i] += w
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		out = append(out, uint32(best))
	}
	return out
}

func TestScheduleIsNginxSequence(t *testing.T) {
	tests := []struct {
		name    string
		weights []uint32
		want    []uint32
	}{
		{"5,1,1", []uint32{5, 1, 1}, []uint32{0, 0, 1, 0, 2, 0, 0}},
		{"equal", []uint32{1, 1, 1}, []uint32{0, 1, 2}},
		{"equal large weights reduce by gcd", []uint32{300, 300}, []uint32{0, 1}},
		{"3,1", []uint32{3, 1}, []uint32{0, 0, 1, 0}},
		{"zero means one", []uint32{0, 2}, []uint32{1, 0, 1}},
		{"single", []uint32{7}, []uint32{0}},
		{"2,4 reduced", []uint32{2, 4}, []uint32{1, 0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, schedule(tt.weights)); diff != "" {
				t.Errorf("schedule(%v) mismatch (-want +got):\n%s", tt.weights, diff)
			}
		})
	}
}

func TestScheduleMatchesReferenceOnRandomWeights(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		n := 1 + rng.IntN(12)
		weights := make([]uint32, n)
		for i := range weights {
			weights[i] = 1 + uint32(rng.IntN(9))
		}
		want := nginx(reduce(weights))
		if diff := cmp.Diff(want, schedule(weights)); diff != "" {
			t.Fatalf("schedule(%v) differs from nginx (-want +got):\n%s", weights, diff)
		}
	}
}

// TestScheduleSpreadsHeavyEndpoint checks that across repeated periods the
// heavy endpoint of 5,1,1 never runs five in a row.
func TestScheduleSpreadsHeavyEndpoint(t *testing.T) {
	s := schedule([]uint32{5, 1, 1})
	doubled := append(append([]uint32(nil), s...), s...)
	run, longest := 0, 0
	for _, i := range doubled {
		if i == 0 {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	if longest >= 5 {
		t.Errorf("schedule %v puts endpoint 0 %d times in a row", s, longest)
	}
}

func TestScheduleCountsAndBounds(t *testing.T) {
	tests := []struct {
		name      string
		weights   []uint32
		maxPeriod int
		wantRatio [2]int // indices whose count ratio must equal their weight ratio ±1%
	}{
		{"1000 equal", repeat(1000, 1), 1000, [2]int{0, 999}},
		{"heavy and light", []uint32{10000, 1, 9999, 5000}, maxPeriod + 4, [2]int{0, 3}},
		{"1000 distinct", seq(1000), maxPeriod + 1000, [2]int{999, 499}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := schedule(tt.weights)
			if len(s) > tt.maxPeriod {
				t.Fatalf("period %d, want <= %d", len(s), tt.maxPeriod)
			}
			counts := make([]int, len(tt.weights))
			for _, i := range s {
				counts[i]++
			}
			a, b := tt.wantRatio[0], tt.wantRatio[1]
			got := float64(counts[a]) / float64(counts[b])
			want := float64(max(tt.weights[a], 1)) / float64(max(tt.weights[b], 1))
			if got < want*0.99 || got > want*1.01 {
				t.Errorf("count ratio %d/%d = %.3f, want %.3f ±1%%", a, b, got, want)
			}
		})
	}
}

func repeat(n int, w uint32) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = w
	}
	return out
}

func seq(n int) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(i + 1)
	}
	return out
}
