package shedding

import (
	"math"
	"testing"
	"time"
)

// TestCloseWindowLateReader: a goroutine that read the time, then waited
// (descheduled, on a loaded machine) before closing the window, measures the
// window up to when it closes it, not up to its stale reading: the calls
// that ended meanwhile are in the window, and its length must hold them, or
// the throughput (the capacity the rate is set from) reads too high.
func TestCloseWindowLateReader(t *testing.T) {
	l, c, _ := newFake()
	stale := c.now() + int64(windowLength) // read when the window ended
	c.advance(windowLength + 50*time.Millisecond)
	l.done.Add(150) // 1000 calls a second, over 150 ms
	l.closeWindow(stale)
	if got := l.est.throughput; math.Abs(got-1000) > 1 {
		t.Fatalf("throughput %.0f/s, want 1000/s: the window's length is the stale reading's", got)
	}
	if end := l.windowEnd.Load(); end != c.now()+int64(windowLength) {
		t.Fatalf("next window ends at %v, want %v", time.Duration(end), time.Duration(c.now()+int64(windowLength)))
	}
}
