package relist

import (
	"testing"
	"time"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestRelistStormSpread simulates 5,000 processes × 50 services, one shared
// watch each, losing the registry at the same instant: for a blip (the
// registry answers at once) and for outages of 2 s and 10 s, the peak of
// re-lists in any millisecond with Delay stays within 4× an even spread
// over the window it promises (1 s), and every re-list lands within one
// backoff step of the registry's return. Backoff alone, for comparison,
// is logged: the blip brings everyone back within ±20 % of 100 ms.
func TestRelistStormSpread(t *testing.T) {
	const n = 5000 * 50
	b := kitresolver.DefaultBackoff
	spread := func(a int) time.Duration { return Delay(b, a) }
	plain := b.Delay
	for _, back := range []time.Duration{0, 2 * time.Second, 10 * time.Second} {
		peak, first, last := Peak(Times(n, back, spread), time.Millisecond)
		plainPeak, plainFirst, plainLast := Peak(Times(n, back, plain), time.Millisecond)
		t.Logf("registry back after %v: peak re-lists per ms %d with the spread (between %v and %v), %d without (between %v and %v)",
			back, peak, first.Round(time.Millisecond), last.Round(time.Millisecond), plainPeak, plainFirst.Round(time.Millisecond), plainLast.Round(time.Millisecond))
		if even := n / int(Spread/time.Millisecond); peak > 4*even {
			t.Errorf("registry back after %v: %d re-lists in one millisecond, over 4× the %d of an even spread over %v", back, peak, even, Spread)
		}
		bound := back + time.Duration(float64(b.Max)*(1+b.Jitter)) + Spread
		if last > bound {
			t.Errorf("registry back after %v: a re-list at %v, past the bound %v", back, last, bound)
		}
	}
}

// TestDelaySpread: the first retry after a break is spread over
// [Delay(0), Delay(0)+min(Spread, Max)); N processes drawing it land
// in no 10 ms slot much more often than an even spread gives.
func TestDelaySpread(t *testing.T) {
	b := kitresolver.DefaultBackoff
	const n = 5000
	lo := time.Duration(float64(b.Base) * (1 - b.Jitter))
	hi := time.Duration(float64(b.Base)*(1+b.Jitter)) + Spread
	slots := map[time.Duration]int{}
	for range n {
		d := Delay(b, 0)
		if d < lo || d > hi {
			t.Fatalf("Delay(0) = %v, outside [%v, %v]", d, lo, hi)
		}
		slots[d/(10*time.Millisecond)]++
	}
	// An even spread over a second puts 1 % in each 10 ms slot; the
	// base's jitter blurs the edges. Allow 2.5 %.
	for slot, c := range slots {
		if c > n/40 {
			t.Fatalf("%d of %d first retries fall in [%v, %v)", c, n, slot*10*time.Millisecond, (slot+1)*10*time.Millisecond)
		}
	}
	short := kitresolver.Backoff{Base: time.Millisecond, Max: 5 * time.Millisecond, Multiplier: 2}
	for range 100 {
		if d := Delay(short, 0); d >= short.Base+short.Max {
			t.Fatalf("Delay(0) = %v with Max %v: the spread must not pass Max", d, short.Max)
		}
		if d := Delay(short, 5); d > short.Max {
			t.Fatalf("Delay(5) = %v, past Max %v", d, short.Max)
		}
	}
}
