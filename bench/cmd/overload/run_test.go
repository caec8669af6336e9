package main

import (
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
