package report

import (
	"fmt"
	"math"
)

// Status is a check's verdict.
type Status int

const (
	// Met: the measurement is within the target.
	Met Status = iota
	// Missed: the measurement is outside the target.
	Missed
	// NotMeasured: the results hold no measurement for the check.
	NotMeasured
	// Info: shown for context, not held to a target.
	Info
)

func (s Status) String() string {
	switch s {
	case Met:
		return "✅ meets"
	case Missed:
		return "❌ misses"
	case NotMeasured:
		return "⚠️ not measured"
	}
	return "ℹ️ context"
}

// Pair compares a grpckit benchmark with the anchor measured beside it.
type Pair struct {
	Label  string // what is compared: "10 endpoints, wrr"
	Pkg    string // package inside the module
	Anchor string // the anchor's benchmark name
	Ours   string // grpckit's benchmark name
	Unit   string // compared unit; "" for ns/op
	// Max is the target: ours/anchor ≤ Max, or ours − anchor ≤ Max (in
	// Unit) when Additive.
	Max      float64
	Additive bool
	// ZeroAllocs requires ours to allocate nothing per op.
	ZeroAllocs bool
	// Info pairs are shown for context and not judged.
	Info bool
}

func (p Pair) unit() string {
	if p.Unit == "" {
		return "ns/op"
	}
	return p.Unit
}

// Check is one measured comparison and its verdict.
type Check struct {
	Label    string
	Anchor   string  // the anchor's figure, formatted
	Ours     string  // grpckit's figure, formatted
	Value    float64 // the judged figure: a ratio, a difference or a fraction
	Measured string  // Value, formatted
	Target   string  // the target, formatted
	Status   Status
	Note     string // allocations, run counts, caveats
}

// judge returns Met when ok, Missed otherwise, and Info for info checks.
func judge(ok, info bool) Status {
	switch {
	case info:
		return Info
	case ok:
		return Met
	}
	return Missed
}

// Evaluate compares p's benchmarks in s: the medians of their runs, the
// ratio or difference, allocations, and the verdict.
func (p Pair) Evaluate(s *Set) Check {
	c := Check{Label: p.Label, Target: p.target()}
	a, okA := s.Stat(Key{p.Pkg, p.Anchor}, p.unit())
	o, okO := s.Stat(Key{p.Pkg, p.Ours}, p.unit())
	if !okA || !okO {
		c.Status, c.Measured = NotMeasured, "—"
		c.Note = fmt.Sprintf("no %s for %s", p.unit(), missing(okA, okO, p))
		return c
	}
	c.Anchor, c.Ours = formatUnit(a.Median, p.unit()), formatUnit(o.Median, p.unit())
	if p.Additive {
		c.Value = o.Median - a.Median
		c.Measured = fmt.Sprintf("%+.0f %s", c.Value, unitName(p.unit()))
	} else {
		c.Value = Ratio(a.Median, o.Median)
		c.Measured = fmt.Sprintf("%.2f×", c.Value)
	}
	ok := c.Value <= p.Max
	c.Note = fmt.Sprintf("median of %d/%d runs", o.Runs, a.Runs)
	if lo, hi, ok := passRange(s.Values(Key{p.Pkg, p.Anchor}, p.unit()), s.Values(Key{p.Pkg, p.Ours}, p.unit())); ok && !p.Additive {
		c.Note += fmt.Sprintf("; per pass %.2f–%.2f×", lo, hi)
	}
	if allocs, has := s.Stat(Key{p.Pkg, p.Ours}, "allocs/op"); has && p.ZeroAllocs {
		c.Note += fmt.Sprintf("; %g allocs/op", allocs.Median)
		if allocs.Median != 0 {
			ok = false
		}
	}
	c.Status = judge(ok && !math.IsNaN(c.Value), p.Info)
	return c
}

// passRange returns the smallest and largest ratio of ours[i] to
// anchor[i]: with one value per pass, the spread of the pass-by-pass
// ratios. ok is false unless both have the same number (two or more).
func passRange(anchor, ours []float64) (lo, hi float64, ok bool) {
	if len(anchor) != len(ours) || len(anchor) < 2 {
		return 0, 0, false
	}
	lo, hi = math.Inf(1), math.Inf(-1)
	for i := range anchor {
		r := Ratio(anchor[i], ours[i])
		lo, hi = math.Min(lo, r), math.Max(hi, r)
	}
	return lo, hi, !math.IsNaN(lo) && !math.IsNaN(hi)
}

func missing(okA, okO bool, p Pair) string {
	switch {
	case !okA && !okO:
		return p.Anchor + " and " + p.Ours
	case !okA:
		return p.Anchor
	}
	return p.Ours
}

func (p Pair) target() string {
	var t string
	switch {
	case p.Info:
		return "—"
	case p.Additive:
		t = fmt.Sprintf("≤ anchor + %g %s", p.Max, unitName(p.unit()))
	default:
		t = fmt.Sprintf("≤ %g×", p.Max)
	}
	if p.ZeroAllocs {
		t += ", 0 allocs"
	}
	return t
}

// unitName is the unit without "/op": "ns", "µs".
func unitName(unit string) string {
	switch unit {
	case "ns/op", "cpu-ns/op":
		return "ns"
	case "p99-µs":
		return "µs"
	}
	return unit
}

// formatUnit formats v of unit for a table cell.
func formatUnit(v float64, unit string) string {
	switch unit {
	case "ns/op", "cpu-ns/op":
		return formatNanos(v)
	case "p99-µs":
		return formatNanos(v * 1e3)
	}
	return fmt.Sprintf("%.4g %s", v, unit)
}

// formatNanos formats a duration in ns with three significant digits.
func formatNanos(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.3g s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.3g ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.3g µs", ns/1e3)
	}
	return fmt.Sprintf("%.3g ns", ns)
}
