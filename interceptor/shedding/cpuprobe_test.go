package shedding

import (
	"testing"
	"time"
)

// TestCPUProbe: the probe returns the CPU time used between two reads, and
// -1 when the source cannot tell or goes backwards.
func TestCPUProbe(t *testing.T) {
	v := time.Duration(0)
	p := newCPUProbe(func() time.Duration { return v })
	v = 30 * time.Millisecond
	if got := p.since(); got != 30*time.Millisecond {
		t.Fatalf("since = %v, want 30ms", got)
	}
	if got := p.since(); got != 0 {
		t.Fatalf("since with no CPU used = %v, want 0", got)
	}
	v = -1
	if got := p.since(); got != -1 {
		t.Fatalf("since from an unknown source = %v, want -1", got)
	}
	v = 10 * time.Millisecond
	if got := p.since(); got != -1 {
		t.Fatalf("since after an unknown read = %v, want -1", got)
	}
	v = 5 * time.Millisecond
	if got := p.since(); got != -1 {
		t.Fatalf("since going backwards = %v, want -1", got)
	}
}
