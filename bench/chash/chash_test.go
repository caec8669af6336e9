package chash

import (
	"math"
	"testing"
)

func TestMaxMean(t *testing.T) {
	for _, tc := range []struct {
		name   string
		counts []int
		want   float64
	}{
		{"even", []int{5, 5, 5, 5}, 1},
		{"one busy", []int{2, 2, 2, 6}, 2},
		{"all on one", []int{0, 0, 9}, 3},
		{"nothing", []int{0, 0}, 0},
	} {
		if got := maxMean(tc.counts); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: maxMean(%v) = %v, want %v", tc.name, tc.counts, got, tc.want)
		}
	}
}

func TestNoiseFloor(t *testing.T) {
	// 100 endpoints, 1M keys: 10k a key each, σ 1%, √(2 ln 100) ≈ 3.03.
	if got := NoiseFloor(100, 1_000_000); math.Abs(got-1.0303) > 0.0005 {
		t.Errorf("NoiseFloor(100, 1e6) = %.4f, want 1.0303", got)
	}
	if got := NoiseFloor(1, 10); got != 1 {
		t.Errorf("NoiseFloor(1, 10) = %v, want 1", got)
	}
	if a, b := NoiseFloor(100, 1e5), NoiseFloor(100, 1e7); a <= b {
		t.Errorf("more keys must lower the floor: %v <= %v", a, b)
	}
}

// TestMeasureBalance checks the target at 100 endpoints, allowing for the
// sampling noise of the keys counted.
func TestMeasureBalance(t *testing.T) {
	b, err := MeasureBalance(100, 200_000)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", b)
	if b.Keys != 200_000 || b.Endpoints != 100 || b.Bounded {
		t.Errorf("result describes the wrong run: %+v", b)
	}
	if limit := 1.05 + (b.NoiseFloor - 1); b.MaxMean < 1 || b.MaxMean > limit {
		t.Errorf("max/mean %.4f, want in [1, %.4f] (1.05 plus sampling noise)", b.MaxMean, limit)
	}
}

func TestMeasureBounded(t *testing.T) {
	b, err := MeasureBounded(50, 5000)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", b)
	if !b.Bounded || b.MaxMean < 1 || b.MaxMean > LoadFactor {
		t.Errorf("bounded max/mean %.4f, want in [1, %v]", b.MaxMean, LoadFactor)
	}
}

func TestMeasureMovement(t *testing.T) {
	for _, cfg := range []string{Unbounded, Bounded} {
		m, err := MeasureMovement(cfg, 20, 100_000)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %+v", cfg, m)
		if m.MovedElsewhere != 0 {
			t.Errorf("%s: %d keys moved between endpoints that stayed", cfg, m.MovedElsewhere)
		}
		if m.Moved <= 0 || m.Moved > m.Bound || m.Theory != 1.0/20 {
			t.Errorf("%s: moved %.4f, want in (0, %.4f]", cfg, m.Moved, m.Bound)
		}
	}
}

// TestMeasureChange grows fleets by one endpoint and doubles one endpoint's
// weight at sizes on both sides of powers of two: no key may move between
// endpoints that did not change, and the keys that move are the changed
// endpoint's share, give or take 5 standard deviations of sampling.
func TestMeasureChange(t *testing.T) {
	const keys = 20_000
	for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65} {
		for _, change := range []Change{Grow, Reweight} {
			m, err := MeasureChange(Unbounded, change, n, keys)
			if err != nil {
				t.Fatal(err)
			}
			if m.MovedElsewhere != 0 {
				t.Errorf("%s at %d endpoints: %d of %d keys moved between endpoints that did not change", change, n, m.MovedElsewhere, keys)
			}
			if limit := m.Bound + 5*math.Sqrt(m.Theory/keys); m.Moved > limit {
				t.Errorf("%s at %d endpoints: moved %.4f of the keys, want <= %.4f (theory %.4f)", change, n, m.Moved, limit, m.Theory)
			}
		}
	}
}
