package shedding

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock for a Limiter: nanoseconds since its epoch, moved by
// the test.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() int64              { return c.ns.Load() }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// fakeProbe returns the scheduling delay the test sets.
type fakeProbe struct{ d atomic.Int64 }

func (p *fakeProbe) read() time.Duration { return time.Duration(p.d.Load()) }
func (p *fakeProbe) set(d time.Duration) { p.d.Store(int64(d)) }
func newFake() (*Limiter, *fakeClock, *fakeProbe) {
	c, p := &fakeClock{}, &fakeProbe{}
	return newLimiter(p.read, c.now), c, p
}

// overload makes l shed: one window of calls with the scheduling delay far
// over their latency, so that the rate becomes a fraction of what completed.
func overload(l *Limiter, c *fakeClock, p *fakeProbe) {
	p.set(time.Second)
	for range startWindows * 100 {
		start := c.now()
		if l.allow(context.Background(), start) {
			l.start()
			l.end(start, start+int64(2*ms))
		}
		c.advance(windowLength / 100)
	}
	l.allow(context.Background(), c.now()) // closes the last window
	p.set(0)
}

func TestLimiterAdmitsAllUntilOverloaded(t *testing.T) {
	l, c, _ := newFake()
	for i := range 10000 {
		if !l.allow(context.Background(), c.now()) {
			t.Fatalf("call %d shed with no overload", i)
		}
		c.advance(50 * time.Microsecond)
	}
	if s := l.Stats(); s.Rate != 0 || s.Overloaded {
		t.Fatalf("stats %+v, want no rate and no overload", s)
	}
}

func TestLimiterShedsWhenOverloaded(t *testing.T) {
	l, c, p := newFake()
	overload(l, c, p)
	s := l.Stats()
	if !s.Overloaded || s.Rate <= 0 {
		t.Fatalf("stats %+v after an overloaded window, want a rate", s)
	}
	if d := l.shedCall(); d < 2*ms {
		t.Errorf("pushback %v, want at least the calls' latency 2ms", d)
	}
}

// TestLimiterCeiling: however many goroutines ask at once, the calls
// admitted in a span D at rate r with tolerance τ are at most r·(D+τ)+1,
// the generic cell rate algorithm's ceiling.
func TestLimiterCeiling(t *testing.T) {
	l, c, p := newFake()
	overload(l, c, p)
	interval := time.Duration(l.interval.Load())
	tol := time.Duration(l.tolerance[Critical+1].Load())
	if interval == 0 {
		t.Fatal("not limiting")
	}
	const span = 50 * time.Millisecond // shorter than a window: the rate holds
	start := c.now()
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				now := start + int64(span)*int64(i)/2000
				if l.admit(now, Criticality(g%3-1)) {
					admitted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	ceiling := int64((span+tol)/interval) + 1
	if got := admitted.Load(); got > ceiling || got == 0 {
		t.Fatalf("admitted %d in %v at one per %v with tolerance %v; want 1..%d", got, span, interval, tol, ceiling)
	}
}

// TestLimiterCriticality: under the same demand, sheddable calls are shed
// first and critical ones last.
func TestLimiterCriticality(t *testing.T) {
	l, c, p := newFake()
	overload(l, c, p)
	var got [3]int
	now := c.now()
	for i := range 3000 {
		crit := Criticality(i%3 - 1)
		if l.admit(now+int64(i)*int64(10*time.Microsecond), crit) {
			got[crit+1]++
		}
	}
	if !(got[0] < got[1] && got[1] < got[2]) {
		t.Fatalf("admitted sheddable %d, default %d, critical %d; want increasing", got[0], got[1], got[2])
	}
}

// TestLimiterWindowClosedOnce: many goroutines crossing a window's end at
// once close it once; the others go on without waiting.
func TestLimiterWindowClosedOnce(t *testing.T) {
	var reads atomic.Int64
	c := &fakeClock{}
	l := newLimiter(func() time.Duration { reads.Add(1); return 0 }, c.now)
	c.advance(windowLength)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() { l.allow(context.Background(), c.now()) })
	}
	wg.Wait()
	if n := reads.Load(); n != 1 {
		t.Fatalf("window closed %d times, want 1", n)
	}
}

func TestNew(t *testing.T) {
	l := New()
	if !l.allow(context.Background(), l.now()) {
		t.Fatal("a new limiter shed the first call")
	}
	l.closeWindow(l.now() + int64(windowLength)) // reads the runtime's metrics
}
