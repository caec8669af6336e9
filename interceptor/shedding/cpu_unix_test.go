//go:build unix

package shedding

import (
	"testing"
	"time"
)

// TestProcessCPU: on this system the process's CPU time is known and grows
// with work done.
func TestProcessCPU(t *testing.T) {
	before := processCPU()
	if before < 0 {
		t.Fatalf("processCPU = %v on a unix system, want the CPU time", before)
	}
	x := uint64(1)
	for deadline := time.Now().Add(50 * time.Millisecond); time.Now().Before(deadline); {
		for range 1000 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
		}
	}
	if x == 0 {
		t.Log(x)
	}
	if after := processCPU(); after <= before {
		t.Fatalf("process CPU %v after 50 ms of work, %v before: want more", after, before)
	}
}
