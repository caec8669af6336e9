package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/grpckit/grpckit/bench/internal/jsonfile"
	"github.com/grpckit/grpckit/bench/overload"
)

func TestRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "overload.json")
	cfg := overload.Config{Cost: 200 * time.Microsecond, Measure: 200 * time.Millisecond, Loads: []float64{1}, Warmup: 50 * time.Millisecond,
		Step: 200 * time.Millisecond, Deadline: time.Second}
	if err := run(out, cfg); err != nil {
		t.Fatal(err)
	}
	var f overload.File
	if err := jsonfile.Read(out, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Steps) != len(overload.Protections) || f.Halving != nil {
		t.Fatalf("file has %d steps and halving %v, want %d and none", len(f.Steps), f.Halving, len(overload.Protections))
	}
}

func TestWriteReport(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "overload.json")
	f := overload.File{
		Config:   overload.Config{Cost: time.Millisecond, Loads: []float64{0.5, 2}, Step: time.Second, Deadline: time.Second, Halving: 3 * time.Second},
		Capacity: overload.Capacity{Callers: 8, Rate: 1000},
		Steps: []overload.Step{
			{Protection: overload.Grpckit, Load: 0.5, Capacity: 1000, GoodputShare: 0.5, P99: 2},
			{Protection: overload.Grpckit, Load: 2, Capacity: 1000, GoodputShare: 0.95, P99: 3},
		},
		Halving: &overload.Halving{SwitchAt: 1, Points: []overload.Point{{T: 0.1, Rate: 900}, {T: 2, Rate: 450}}, Bins: []overload.Bin{{T: 0, Goodput: 900}}},
	}
	if err := jsonfile.Write(in, f); err != nil {
		t.Fatal(err)
	}
	if err := writeReport(in, dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{overload.PlotLoad, overload.PlotHalving} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("plot %s: %v", p, err)
		}
	}
}
