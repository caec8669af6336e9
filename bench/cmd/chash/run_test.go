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
	if len(res.Balance) != 6 || len(res.Movement) != 18 {
		t.Fatalf("%d balance and %d movement results, want 6 and 18 (3 sizes × bounded or not × removal, grow, reweight)", len(res.Balance), len(res.Movement))
	}
	changes := map[chash.Change]int{}
	for _, m := range res.Movement {
		changes[m.Change]++
	}
	if changes[""] != 6 || changes[chash.Grow] != 6 || changes[chash.Reweight] != 6 {
		t.Errorf("movement results per change %v, want 6 removals, grows and reweights", changes)
	}
	for _, m := range res.Movement {
		if m.MovedElsewhere != 0 || m.Moved <= 0 {
			t.Errorf("%+v: want some keys moved, none between endpoints that stayed", m)
		}
	}
}
