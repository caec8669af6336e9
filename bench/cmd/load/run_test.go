package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/grpckit/grpckit/bench/internal/jsonfile"
	"github.com/grpckit/grpckit/bench/load"
)

func TestRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "load.json")
	cfg := load.Config{Concurrency: 2, Round: 100 * time.Millisecond, Rounds: 1}
	if err := run(out, cfg); err != nil {
		t.Fatal(err)
	}
	var f load.File
	if err := jsonfile.Read(out, &f); err != nil {
		t.Fatal(err)
	}
	if f.Config != cfg || len(f.Results) != len(load.Variants) {
		t.Fatalf("file has config %+v and %d results, want %+v and %d", f.Config, len(f.Results), cfg, len(load.Variants))
	}
	for _, r := range f.Results {
		if r.QPS <= 0 || r.Errors != 0 {
			t.Errorf("%+v: want calls and no errors", r)
		}
	}
}
