package main

import (
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/grpckit/grpckit/bench/internal/jsonfile"
	"github.com/grpckit/grpckit/bench/relist"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRunWritesFile: the command writes a file the report can read back.
func TestRunWritesFile(t *testing.T) {
	cfg := relist.DefaultConfig()
	cfg.Processes, cfg.Services = 10, 5
	out := filepath.Join(t.TempDir(), "relist.json")
	if err := run(out, cfg); err != nil {
		t.Fatal(err)
	}
	var f relist.File
	if err := jsonfile.Read(out, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Scenarios) != len(cfg.OutagesMS) || f.Config.Processes != 10 {
		t.Fatalf("read back %+v", f.Config)
	}
}
