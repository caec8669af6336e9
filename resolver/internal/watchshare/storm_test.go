package watchshare

import (
	"testing"
	"time"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// relistTimes simulates, in virtual time, n watches that all break at time 0
// and retry with delay until the registry answers again at back; it returns
// the time of each watch's successful re-list.
func relistTimes(n int, back time.Duration, delay func(attempt int) time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		t := time.Duration(0)
		for attempt := 0; ; attempt++ {
			t += delay(attempt)
			if t >= back {
				break
			}
		}
		out[i] = t
	}
	return out
}

// peakPer returns the most re-lists in one window of length w, and the
// first and last re-list.
func peakPer(times []time.Duration, w time.Duration) (peak int, first, last time.Duration) {
	counts := map[time.Duration]int{}
	first, last = times[0], times[0]
	for _, t := range times {
		counts[t/w]++
		first, last = min(first, t), max(last, t)
	}
	for _, c := range counts {
		peak = max(peak, c)
	}
	return peak, first, last
}

// TestRelistStormSpread simulates 5,000 processes × 50 services, one shared
// watch each, losing the registry at the same instant: for a blip (the
// registry answers at once) and for outages of 2 s and 10 s, the peak of
// re-lists in any millisecond with RetryDelay stays within 4× an even spread
// over the window it promises (1 s), and every re-list lands within one
// backoff step of the registry's return. Backoff alone, for comparison,
// is logged: the blip brings everyone back within ±20 % of 100 ms.
func TestRelistStormSpread(t *testing.T) {
	const n = 5000 * 50
	b := kitresolver.DefaultBackoff
	spread := func(a int) time.Duration { return RetryDelay(b, a) }
	plain := b.Delay
	for _, back := range []time.Duration{0, 2 * time.Second, 10 * time.Second} {
		peak, first, last := peakPer(relistTimes(n, back, spread), time.Millisecond)
		plainPeak, plainFirst, plainLast := peakPer(relistTimes(n, back, plain), time.Millisecond)
		t.Logf("registry back after %v: peak re-lists per ms %d with the spread (between %v and %v), %d without (between %v and %v)",
			back, peak, first.Round(time.Millisecond), last.Round(time.Millisecond), plainPeak, plainFirst.Round(time.Millisecond), plainLast.Round(time.Millisecond))
		if even := n / int(RelistSpread/time.Millisecond); peak > 4*even {
			t.Errorf("registry back after %v: %d re-lists in one millisecond, over 4× the %d of an even spread over %v", back, peak, even, RelistSpread)
		}
		bound := back + time.Duration(float64(b.Max)*(1+b.Jitter)) + RelistSpread
		if last > bound {
			t.Errorf("registry back after %v: a re-list at %v, past the bound %v", back, last, bound)
		}
	}
}
