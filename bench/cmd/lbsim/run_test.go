package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/grpckit/grpckit/bench/internal/jsonfile"
	"github.com/grpckit/grpckit/bench/lbsim"
)

func TestRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "lbsim.json")
	if err := run(out, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var res map[string]lbsim.Result
	if err := jsonfile.Read(out, &res); err != nil {
		t.Fatal(err)
	}
	for _, p := range lbsim.Policies {
		r, ok := res[p.Label]
		if !ok || r.Mode != "loopback" || r.Requests != 300 || r.Errors != 0 || len(r.Served) != lbsim.Default.Backends {
			t.Errorf("%s: %+v, want 300 loopback requests over %d backends without errors", p.Label, r, lbsim.Default.Backends)
		}
	}
}
