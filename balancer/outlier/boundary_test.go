package outlier

import "testing"

// TestFailureRateBoundary: a failure share exactly at failureRateThreshold
// is not over it, whatever the threshold and counts (the share and threshold
// compared as fractions, not through a product that rounds down), and one
// failure more is.
func TestFailureRateBoundary(t *testing.T) {
	for p := 1; p < 100; p++ {
		cfg := &lbConfig{failureRate: float64(p) / 100, minRequests: 1} // as JSON's 0.29 parses
		for total := int64(1); total <= 200; total++ {
			if int64(p)*total%100 != 0 {
				continue
			}
			f := int64(p) * total / 100
			if overRate(cfg, total-f, f) {
				t.Errorf("failureRateThreshold %v: %d failures of %d (exactly the threshold) ejects", cfg.failureRate, f, total)
			}
			if f < total && !overRate(cfg, total-f-1, f+1) {
				t.Errorf("failureRateThreshold %v: %d failures of %d (over the threshold) does not eject", cfg.failureRate, f+1, total)
			}
		}
	}
}
