package report

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// benchOutput builds `go test -bench` output for package pkg: each name with its
// ns/op values (and allocs/op, if given), one line per value.
func benchOutput(pkg string, lines map[string][]float64, allocs map[string]float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "pkg: %s%s\n", modulePrefix, pkg)
	for name, vs := range lines {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s-2\t1000\t%g ns/op\t%g allocs/op\t%g p99-µs\n", name, v, allocs[name], v/1000)
		}
	}
	return b.String()
}

func TestPairEvaluate(t *testing.T) {
	out := benchOutput("p", map[string][]float64{
		"BenchmarkA":      {100, 110, 90, 100, 105, 95}, // median 100
		"BenchmarkFast":   {40, 45, 41, 60, 39, 44},     // median 42.5
		"BenchmarkSlow":   {130, 125, 120},              // median 125
		"BenchmarkAlloc":  {40, 40},                     // allocates
		"BenchmarkEvenly": {103, 103},
	}, map[string]float64{"BenchmarkAlloc": 1})
	s, err := Parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		pair      Pair
		wantValue float64
		want      Status
	}{
		{"ratio under target", Pair{Pkg: "p", Anchor: "BenchmarkA", Ours: "BenchmarkFast", Max: 0.5}, 0.425, Met},
		{"ratio over target", Pair{Pkg: "p", Anchor: "BenchmarkA", Ours: "BenchmarkSlow", Max: 1.2}, 1.25, Missed},
		{"ratio equal to target", Pair{Pkg: "p", Anchor: "BenchmarkA", Ours: "BenchmarkEvenly", Max: 1.03}, 1.03, Met},
		{"fast but allocates", Pair{Pkg: "p", Anchor: "BenchmarkA", Ours: "BenchmarkAlloc", Max: 0.5, ZeroAllocs: true}, 0.4, Missed},
		{"fast and no allocs", Pair{Pkg: "p", Anchor: "BenchmarkA", Ours: "BenchmarkFast", Max: 0.5, ZeroAllocs: true}, 0.425, Met},
		{"info is not judged", Pair{Pkg: "p", Anchor: "BenchmarkA", Ours: "BenchmarkSlow", Max: 1, Info: true}, 1.25, Info},
		{"additive within", Pair{Pkg: "p", Anchor: "BenchmarkA", Ours: "BenchmarkSlow", Unit: "p99-µs", Max: 0.03, Additive: true}, 0.025, Met},
		{"additive over", Pair{Pkg: "p", Anchor: "BenchmarkA", Ours: "BenchmarkSlow", Unit: "p99-µs", Max: 0.01, Additive: true}, 0.025, Missed},
		{"missing benchmark", Pair{Pkg: "p", Anchor: "BenchmarkA", Ours: "BenchmarkNone", Max: 1}, 0, NotMeasured},
		{"wrong package", Pair{Pkg: "q", Anchor: "BenchmarkA", Ours: "BenchmarkFast", Max: 1}, 0, NotMeasured},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.pair.Evaluate(s)
			if c.Status != tc.want {
				t.Errorf("status %v, want %v (check %+v)", c.Status, tc.want, c)
			}
			if d := c.Value - tc.wantValue; d > 1e-9 || d < -1e-9 {
				t.Errorf("value %v, want %v", c.Value, tc.wantValue)
			}
		})
	}
}

func TestPassRange(t *testing.T) {
	for _, tc := range []struct {
		name         string
		anchor, ours []float64
		lo, hi       float64
		ok           bool
	}{
		{"pairs by pass", []float64{100, 200, 50}, []float64{110, 180, 60}, 0.9, 1.2, true},
		{"one pass", []float64{100}, []float64{110}, 0, 0, false},
		{"unequal counts", []float64{100, 100}, []float64{110}, 0, 0, false},
	} {
		lo, hi, ok := passRange(tc.anchor, tc.ours)
		if ok != tc.ok || (ok && (math.Abs(lo-tc.lo) > 1e-9 || math.Abs(hi-tc.hi) > 1e-9)) {
			t.Errorf("%s: passRange = %v, %v, %v; want %v, %v, %v", tc.name, lo, hi, ok, tc.lo, tc.hi, tc.ok)
		}
	}
}

func TestRowStatus(t *testing.T) {
	for _, tc := range []struct {
		in   []Status
		want Status
	}{
		{[]Status{Met, Met, Info}, Met},
		{[]Status{Met, Missed, NotMeasured}, Missed},
		{[]Status{Met, NotMeasured}, NotMeasured},
		{[]Status{Info}, NotMeasured},
		{nil, NotMeasured},
	} {
		cs := make([]Check, len(tc.in))
		for i, s := range tc.in {
			cs[i].Status = s
		}
		if got := rowStatus(cs); got != tc.want {
			t.Errorf("rowStatus(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestBenchName(t *testing.T) {
	for in, want := range map[string]string{
		"wrr, 10 endpoints":                "wrr_10_endpoints",
		"p99, put → UpdateState (x)":       "p99_put_UpdateState_x",
		"memory per key, 1M keys (≤ 1.5×)": "memory_per_key_1M_keys_1.5",
	} {
		if got := benchName(in); got != want {
			t.Errorf("benchName(%q) = %q, want %q", in, got, want)
		}
	}
}
