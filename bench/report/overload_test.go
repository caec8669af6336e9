package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grpckit/grpckit/bench/clientoverload"
	"github.com/grpckit/grpckit/bench/overload"
)

func writeFile(t *testing.T, dir, name string, v any) {
	t.Helper()
	var b []byte
	if s, ok := v.(string); ok {
		b = []byte(s)
	} else {
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func report(t *testing.T, dir string) (string, []RowResult) {
	t.Helper()
	in, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	plots, err := Plots(t.TempDir(), in)
	if err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	if err := Markdown(&md, in, plots); err != nil {
		t.Fatal(err)
	}
	return md.String(), EvaluateRows(in, Rows)
}

func row(t *testing.T, rows []RowResult, id string) RowResult {
	t.Helper()
	for _, r := range rows {
		if r.Row.ID == id {
			return r
		}
	}
	t.Fatalf("no row %q", id)
	return RowResult{}
}

// TestOverloadFromResults: the Overload and client overload sections and the
// overload row come from the JSON results, and the limiter is judged by the
// goals: here it meets all but the goodput at 4×.
func TestOverloadFromResults(t *testing.T) {
	dir := writeResults(t)
	cfg := overload.DefaultConfig
	f := overload.File{Config: cfg, Cores: 2, Capacity: overload.Capacity{Callers: 8, Rate: 500, P50: 2, P99: 10}}
	for _, p := range overload.Protections {
		for _, l := range cfg.Loads {
			s := overload.Step{Protection: p, Load: l, Capacity: 500, Sent: 100, OK: 100, GoodputShare: min(l, 1), P99: 10 * l}
			if p == overload.Grpckit {
				s.P99 = 10
				if l == 4 {
					s.GoodputShare = 0.8
				}
			}
			f.Steps = append(f.Steps, s)
		}
	}
	writeFile(t, dir, OverloadFile, f)
	writeFile(t, dir, OverloadNote, "### Notes on this run\n\nhand-written note")
	writeFile(t, dir, ClientOverloadFile, ClientOverload{Config: clientoverload.DefaultConfig,
		Results: []clientoverload.Result{{Mechanism: "throttle", FailingLoad: 0.1, Recovery: 5 * time.Second}}})
	md, rows := report(t, dir)
	for _, want := range []string{"## Overload", overload.PlotLoad, "hand-written note", "## Client overload", "| throttle | 10.0 % |"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	r := row(t, rows, "overload")
	if r.Status != Missed {
		t.Errorf("overload row %v, want missed", r.Status)
	}
	var missed []string
	for _, c := range r.Checks {
		if c.Status == Missed {
			missed = append(missed, c.Label)
		}
	}
	if want := []string{"grpckit, 4×: goodput"}; strings.Join(missed, ";") != strings.Join(want, ";") {
		t.Errorf("missed checks %q, want %q", missed, want)
	}
}

// TestClientOverloadNote: without its JSON the client overload section is
// the hand-written one; without either, not measured.
func TestClientOverloadNote(t *testing.T) {
	dir := writeResults(t)
	md, _ := report(t, dir)
	if !strings.Contains(md, "## Client overload: adaptive throttling and the retry budget\n\nNot measured in this run.") {
		t.Error("no client overload results: want the section to say not measured")
	}
	if !strings.Contains(md, "## Overload\n\nNot measured in this run.") {
		t.Error("no overload results: want the section to say not measured")
	}
	writeFile(t, dir, ClientOverloadNote, "## Client overload: adaptive throttling and the retry budget\n\nfrom the note")
	if md, _ = report(t, dir); !strings.Contains(md, "from the note") {
		t.Error("report lacks the client overload note")
	}
}

// TestTracingStaleNames: results that predate the interceptor path's
// benchmarks (no propagation anchor) are not judged, though names like
// tracing/unsampled are in them; with the current suite they are.
func TestTracingStaleNames(t *testing.T) {
	dir := writeResults(t)
	old := `goos: linux
pkg: github.com/grpckit/grpckit/interceptor/tracing
BenchmarkUnaryRPC/bare-2 	100	1000 ns/op	100 allocs/op
BenchmarkUnaryRPC/tracing/unsampled-2 	100	1010 ns/op	101 allocs/op
BenchmarkUnaryRPC/tracing/noop-2 	100	1010 ns/op	101 allocs/op
`
	writeFile(t, dir, BenchFile, old)
	_, rows := report(t, dir)
	if r := row(t, rows, "tracing-unsampled"); r.Status != NotMeasured || !strings.Contains(r.Checks[0].Note, "not measured in this run") {
		t.Errorf("stale tracing results: row %v, note %q; want not measured", r.Status, r.Checks[0].Note)
	}
	current := old + `BenchmarkUnaryRPC/propagation-2 	100	1005 ns/op	101 allocs/op
BenchmarkUnaryRPC/statshandler/unsampled-2 	100	1300 ns/op	130 allocs/op
`
	writeFile(t, dir, BenchFile, current)
	_, rows = report(t, dir)
	for _, c := range row(t, rows, "tracing-unsampled").Checks[:4] {
		if c.Status != Met {
			t.Errorf("current tracing results within target: %s %v (%s), want met", c.Label, c.Status, c.Note)
		}
	}
	if r := row(t, rows, "stack-tracing"); r.Status != NotMeasured {
		t.Errorf("no stack+tracing results: row %v, want not measured", r.Status)
	}
}
