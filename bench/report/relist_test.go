package report

import (
	"strings"
	"testing"

	"github.com/grpckit/grpckit/bench/relist"
)

// TestRelistFromResults: the registry section's re-list table and plot come
// from relist.json, and say so when it is missing.
func TestRelistFromResults(t *testing.T) {
	dir := writeResults(t)
	md, _ := report(t, dir)
	if !strings.Contains(md, "## Registry load") || !strings.Contains(md, "re-list simulation (bench/cmd/relist) is not in the results") {
		t.Errorf("without relist.json the registry section does not say the simulation is missing")
	}
	cfg := relist.DefaultConfig()
	cfg.Processes = 20
	f, err := relist.Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.Scenarios[0].Spread.PeakPerMS, f.Scenarios[0].Backoff.PeakPerMS = 300, 6438
	writeFile(t, dir, RelistFile, f)
	md, _ = report(t, dir)
	for _, want := range []string{"20 processes × 50 services", "| back after 0 s (a restart) | 300 | 6438 | 21.5× |", relist.PlotFile} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
