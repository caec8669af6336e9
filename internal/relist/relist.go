// Package relist spaces the re-lists of registry watches after an outage,
// and simulates them on virtual time: the resolvers' watchers wait
// Delay before each retry, and bench/relist measures what that does to a
// fleet's registry.
package relist

import (
	"math/rand/v2"
	"time"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// Spread bounds the random wait Delay adds before the first retry after a
// watch that worked breaks.
const Spread = time.Second

// Delay returns how long a watch waits before its retry number attempt (0
// for the first after a working watch broke or after start): b.Delay, and
// for attempt 0 also a wait drawn uniformly from [0, min(Spread, b.Max)).
//
// A registry restart or outage breaks the watches of every process at the
// same moment, and b.Delay(0) alone (100 ms ±20 % by default) would bring
// them all back within a few tens of milliseconds of each other. The extra
// wait spreads those first retries evenly over a second (or over b.Max when
// it is shorter); the later retries of a long outage keep that spread, and
// each step's own jitter adds to it. It delays only a re-read: the channels
// keep serving the last good set meanwhile.
func Delay(b kitresolver.Backoff, attempt int) time.Duration {
	d := b.Delay(attempt)
	if attempt == 0 {
		if spread := min(Spread, b.Max); spread > 0 {
			d += rand.N(spread)
		}
	}
	return d
}

// Times simulates, on virtual time, n watches that all break at time 0 and
// retry after delay(attempt) until the registry answers again at back; it
// returns the time of each watch's successful re-list.
func Times(n int, back time.Duration, delay func(attempt int) time.Duration) []time.Duration {
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

// Peak returns the most re-lists in one window of length w (windows start
// at multiples of w), and the first and last re-list. times must not be
// empty.
func Peak(times []time.Duration, w time.Duration) (peak int, first, last time.Duration) {
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

// Histogram counts the re-lists in each window of length w from time 0 to
// the last one.
func Histogram(times []time.Duration, w time.Duration) []int {
	var h []int
	for _, t := range times {
		i := int(t / w)
		for len(h) <= i {
			h = append(h, 0)
		}
		h[i]++
	}
	return h
}
