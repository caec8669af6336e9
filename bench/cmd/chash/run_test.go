package main

import (
	"path/filepath"
	"testing"

	"github.com/grpckit/grpckit/bench/chash"
	"github.com/grpckit/grpckit/bench/internal/jsonfile"
)

// TestRun writes the balance and movement of the three sizes, bounded and
// not, as JSON the report can read.
func TestRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "chash.json")
	if err := run(out, 20, 5000); err != nil {
		t.Fatal(err)
	}
	var res chash.Results
	if err := jsonfile.Read(out, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Balance) != 6 || len(res.Movement) != 6 {
		t.Fatalf("%d balance and %d movement results, want 6 each (3 sizes × bounded or not)", len(res.Balance), len(res.Movement))
	}
	for _, m := range res.Movement {
		if m.MovedElsewhere != 0 || m.Moved <= 0 {
			t.Errorf("%+v: want some keys moved, none between endpoints that stayed", m)
		}
	}
}
