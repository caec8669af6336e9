package relist

import (
	"testing"
)

// TestRun checks a small run against what the simulation must show: every
// watch re-lists exactly once, after the registry is back, and the spread
// lowers the peak of a restart.
func TestRun(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Processes = 200
	f, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Scenarios) != len(cfg.OutagesMS) {
		t.Fatalf("%d scenarios, want %d", len(f.Scenarios), len(cfg.OutagesMS))
	}
	n := cfg.Processes * cfg.Services
	for _, s := range f.Scenarios {
		for name, o := range map[string]Outcome{"spread": s.Spread, "backoff": s.Backoff} {
			total := 0
			for _, c := range o.Series {
				total += c
			}
			if total != n {
				t.Errorf("outage %v ms, %s: %d re-lists in the series, want %d", s.OutageMS, name, total, n)
			}
			if o.FirstMS < s.OutageMS || o.LastMS < o.FirstMS {
				t.Errorf("outage %v ms, %s: re-lists from %v to %v ms", s.OutageMS, name, o.FirstMS, o.LastMS)
			}
		}
	}
	if r := f.Scenarios[0]; r.Spread.PeakPerMS >= r.Backoff.PeakPerMS {
		t.Errorf("registry back at once: peak %d per ms with the spread, %d without; want lower with it", r.Spread.PeakPerMS, r.Backoff.PeakPerMS)
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	for _, mod := range []func(*Config){
		func(c *Config) { c.Processes = 0 },
		func(c *Config) { c.BucketMS = -1 },
		func(c *Config) { c.Multiplier = 0.5 },
	} {
		cfg := DefaultConfig()
		mod(&cfg)
		if _, err := Run(cfg); err == nil {
			t.Errorf("Run(%+v) succeeded, want an error", cfg)
		}
	}
}
