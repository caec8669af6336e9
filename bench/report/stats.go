package report

import (
	"math"
	"slices"
)

// Median returns the median of vs (the mean of the middle two for an even
// count), NaN when vs is empty.
func Median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// Values returns the values of unit in k's runs, skipping runs without it.
func (s *Set) Values(k Key, unit string) []float64 {
	var out []float64
	for _, r := range s.Runs[k] {
		if v, ok := r.Values[unit]; ok {
			out = append(out, v)
		}
	}
	return out
}

// Stat is a benchmark's median value of one unit over its runs.
type Stat struct {
	Median float64
	Runs   int
}

// Stat returns k's median of unit, and false when k has no run with it.
func (s *Set) Stat(k Key, unit string) (Stat, bool) {
	vs := s.Values(k, unit)
	if len(vs) == 0 {
		return Stat{}, false
	}
	return Stat{Median: Median(vs), Runs: len(vs)}, true
}

// Ratio is ours over anchor, NaN when the anchor is 0.
func Ratio(anchor, ours float64) float64 {
	if anchor == 0 {
		return math.NaN()
	}
	return ours / anchor
}
