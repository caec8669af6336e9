package shedding

import (
	"runtime"
	"testing"
)

// TestEstimatorFollowsGOMAXPROCS: the share of the CPUs the process must
// keep busy for a queue to count as its own is a share of GOMAXPROCS as it
// is when the window closes, not when the Limiter was made (the runtime
// changes it when the container's CPU limit changes; so may the program).
func TestEstimatorFollowsGOMAXPROCS(t *testing.T) {
	l, c, _ := newFake()
	was := runtime.GOMAXPROCS(0)
	want := was + 3
	runtime.GOMAXPROCS(want)
	defer runtime.GOMAXPROCS(was)
	c.advance(windowLength)
	l.closeWindow(c.now())
	if got := l.est.procs; got != float64(want) {
		t.Fatalf("estimator counts %v CPUs, want GOMAXPROCS %d", got, want)
	}
}
