package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grpckit/grpckit/bench/chash"
	"github.com/grpckit/grpckit/bench/lbsim"
)

// picks is a picks.txt with the wrr pick pairs at -cpu 1 and 2, all met.
const picks = `goos: linux
pkg: github.com/grpckit/grpckit/balancer/wrr
BenchmarkPick/endpoints=10/policy=round_robin 	100	10 ns/op	0 allocs/op
BenchmarkPick/endpoints=10/policy=round_robin-2 	100	30 ns/op	0 allocs/op
BenchmarkPick/endpoints=10/policy=grpckit_weighted_round_robin 	100	11 ns/op	0 allocs/op
BenchmarkPick/endpoints=10/policy=grpckit_weighted_round_robin-2 	100	33 ns/op	0 allocs/op
BenchmarkPick/endpoints=100/policy=round_robin 	100	10 ns/op	0 allocs/op
BenchmarkPick/endpoints=100/policy=round_robin-2 	100	30 ns/op	0 allocs/op
BenchmarkPick/endpoints=100/policy=grpckit_weighted_round_robin 	100	11 ns/op	0 allocs/op
BenchmarkPick/endpoints=100/policy=grpckit_weighted_round_robin-2 	100	33 ns/op	0 allocs/op
BenchmarkPick/endpoints=1000/policy=round_robin 	100	10 ns/op	0 allocs/op
BenchmarkPick/endpoints=1000/policy=round_robin-2 	100	30 ns/op	0 allocs/op
BenchmarkPick/endpoints=1000/policy=grpckit_weighted_round_robin 	100	11 ns/op	0 allocs/op
BenchmarkPick/endpoints=1000/policy=grpckit_weighted_round_robin-2 	100	33 ns/op	0 allocs/op
`

// writeResults writes a small results directory: a picks.txt with the wrr
// pick pairs at both -cpu values (met), a bench.txt with the token bucket
// pair (missed), a simulation and a machine file; everything else is
// missing.
func writeResults(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bench := `goos: linux
pkg: github.com/grpckit/grpckit/interceptor/ratelimit
BenchmarkPerKey/anchor=map+mutex-2 	100	150 ns/op	0 allocs/op
BenchmarkPerKey/TokenBucket-2 	100	90 ns/op	0 allocs/op
`
	q := make([]float64, 1001)
	for i := range q {
		q[i] = 5 + float64(i)/10
	}
	sim := map[string]lbsim.Result{
		"round_robin": {Policy: "round_robin", Requests: 1000, Served: []int{100, 100}, P50: 10, P99: 100, Quantiles: q},
		"p2c":         {Policy: "p2c", Requests: 1000, Served: []int{150, 50}, P50: 10, P99: 15, Quantiles: q},
	}
	ch := chash.Results{Balance: []chash.Balance{{Endpoints: 100, Keys: 1000, MaxMean: 1.2, NoiseFloor: 1.1}}}
	files := map[string]any{SimFile: sim, CHashFile: ch}
	for name, v := range files {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, BenchFile), []byte(bench), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, PicksFile), []byte(picks), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, MachineFile), []byte("go: go1.26.8\ncores: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestGenerate renders a report from partial results and checks every row
// appears with the right verdict, the analysis only under a miss, and the
// plots that have data are valid PNGs.
func TestGenerate(t *testing.T) {
	in, err := Load(writeResults(t))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	plots, err := Plots(out, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{PlotCDFSim, PlotShare, PlotPickCost} {
		b, err := os.ReadFile(filepath.Join(out, want))
		if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Errorf("%s: not a PNG (%v)", want, err)
		}
	}
	if len(plots) != 3 {
		t.Errorf("plots drawn %v, want the three with data (no loopback results)", plots)
	}
	var md bytes.Buffer
	if err := Markdown(&md, in, plots); err != nil {
		t.Fatal(err)
	}
	doc := md.String()
	for _, r := range Rows {
		if !strings.Contains(doc, "["+r.What+"](#"+r.ID+")") {
			t.Errorf("summary has no row %q", r.What)
		}
	}
	for _, want := range []string{
		"| wrr, 10 endpoints, -cpu 1 | 10 ns | 11 ns | 1.10× | ≤ 1.2×, 0 allocs | ✅ meets |",
		"| wrr, 10 endpoints, -cpu 2 | 30 ns | 33 ns | 1.10× | ≤ 1.2×, 0 allocs | ✅ meets |",
		"| [wrr pick](#wrr-pick) | ≤ 1.2× grpc-go `round_robin` pick at 10, 100, 1000 endpoints, 0 allocs, at `-cpu 1` and `-cpu 2` | grpc-go round_robin picker | 6 of 6 checks within target (see the row) | ✅ meets |",
		"| 1024 keys, RunParallel | 150 ns | 90 ns | 0.60× | ≤ 0.5×, 0 allocs | ❌ misses |",
		"p99, p2c vs round_robin, simulation (virtual time): 0.15×",
		"| go | go1.26.8 |",
		"![Simulation: latency CDF per policy](" + PlotCDFSim + ")",
		strings.ReplaceAll(analysisTokenBucket, "\n", " "),
		strings.ReplaceAll(analysisCHashBalance, "\n", " "),
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, absent := range []string{strings.ReplaceAll(analysisWRRPick, "\n", " "), PlotCDFLoopback} {
		if strings.Contains(doc, absent) {
			t.Errorf("report has %q, which it should not", absent[:40])
		}
	}
	if got := strings.Count(doc, "⚠️ not measured"); got < 5 {
		t.Errorf("%d not-measured marks, want one per row without results", got)
	}
}

func TestWritePairs(t *testing.T) {
	in, err := Load(writeResults(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "pairs")
	if err := WritePairs(dir, in.Bench, Rows); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		"anchor.txt":  "Benchmarktokenbucket/1024_keys_RunParallel \t100\t150 ns/op\t0 allocs/op\n",
		"grpckit.txt": "Benchmarktokenbucket/1024_keys_RunParallel \t100\t90 ns/op\t0 allocs/op\n",
	} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q:\n%s", file, want, b)
		}
		s, err := Parse(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s does not parse back: %v", file, err)
		}
		if len(s.Order) != 7 { // three wrr sizes at two -cpu values and the token bucket
			t.Errorf("%s holds %d benchmarks, want 7: %v", file, len(s.Order), s.Order)
		}
	}
}

// TestPickMissedAtOneCPU: a pick target met at -cpu 1 and missed at -cpu 2
// is a miss of the row.
func TestPickMissedAtOneCPU(t *testing.T) {
	dir := writeResults(t)
	slow := strings.Replace(picks, "policy=grpckit_weighted_round_robin-2 \t100\t33 ns/op", "policy=grpckit_weighted_round_robin-2 \t100\t40 ns/op", 1)
	if err := os.WriteFile(filepath.Join(dir, PicksFile), []byte(slow), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range EvaluateRows(in, Rows) {
		if r.Row.ID != "wrr-pick" {
			continue
		}
		if r.Status != Missed {
			t.Errorf("wrr pick: %v with 10 endpoints at 1.33× under -cpu 2, want a miss", r.Status)
		}
		return
	}
	t.Fatal("no wrr-pick row")
}
