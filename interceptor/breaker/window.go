package breaker

import "time"

// window counts the outcomes of a closed breaker: over a fixed window that
// restarts when it has run its length (one bucket), or over a rolling
// window of buckets that expire one at a time. An outcome is counted in the
// bucket current when it is recorded, however long ago its call started, so
// calls longer than the window still count.
//
// The streaks (ConsecutiveSuccesses, ConsecutiveFailures) are kept over the
// breaker's closed period and reported capped by the window's totals: a
// streak longer than the window's failures began before the window, and
// then every outcome in the window belongs to it, so the cap is exact.
//
// It also keeps what the spread rule needs (see peers.go): the backends
// heard from in the window, and since when the window has held failures
// without a break (since; zero when it holds none).
type window struct {
	period  time.Duration // one bucket's length
	buckets []Counts      // a ring; Consecutive* unused
	head    int           // the current bucket
	start   time.Time     // when the current bucket began
	total   Counts        // sums over buckets, and the streaks
	seq     uint64        // the current bucket's number, from 1
	since   time.Time     // when the failures in the window began
	peers   [maxPeers]peerSlot
	// overflow is the number of the last bucket in which a backend still in
	// the window was forgotten for room (0: never).
	overflow uint64
}

func newWindow(interval, bucket time.Duration) window {
	if bucket <= 0 {
		return window{period: interval, buckets: make([]Counts, 1)}
	}
	n := int((interval + bucket - 1) / bucket)
	return window{period: bucket, buckets: make([]Counts, n)}
}

// reset empties the window; its first bucket begins at now.
func (w *window) reset(now time.Time) {
	clear(w.buckets)
	clear(w.peers[:])
	w.overflow = 0
	w.total, w.head, w.start = Counts{}, 0, now
	w.seq, w.since = 1, time.Time{}
}

// advance expires the buckets that ended before now.
func (w *window) advance(now time.Time) {
	elapsed := now.Sub(w.start)
	if elapsed < w.period {
		return
	}
	n := elapsed / w.period
	if n >= time.Duration(len(w.buckets)) {
		if len(w.buckets) == 1 {
			w.reset(now) // a fixed window restarts when it is next used
			return
		}
		w.reset(w.start.Add(n * w.period))
		return
	}
	for range n {
		w.head = (w.head + 1) % len(w.buckets)
		w.expire(&w.buckets[w.head])
		w.start = w.start.Add(w.period)
		w.seq++
	}
	if w.total.TotalFailures == 0 {
		w.since = time.Time{}
	}
}

// expire takes an old bucket's counts out of the totals and empties it.
func (w *window) expire(b *Counts) {
	w.total.Requests -= b.Requests
	w.total.TotalSuccesses -= b.TotalSuccesses
	w.total.TotalFailures -= b.TotalFailures
	w.total.TotalExclusions -= b.TotalExclusions
	*b = Counts{}
}

func (w *window) request() {
	w.buckets[w.head].Requests++
	w.total.Requests++
}

// success records a success answered by backend peer.
func (w *window) success(peer uint64) {
	w.peerOutcome(peer, false)
	w.buckets[w.head].TotalSuccesses++
	w.total.TotalSuccesses++
	w.total.ConsecutiveSuccesses++
	w.total.ConsecutiveFailures = 0
}

// failure records a failure of backend peer at now.
func (w *window) failure(peer uint64, now time.Time) {
	if w.total.TotalFailures == 0 {
		w.since = now
	}
	w.peerOutcome(peer, true)
	w.buckets[w.head].TotalFailures++
	w.total.TotalFailures++
	w.total.ConsecutiveFailures++
	w.total.ConsecutiveSuccesses = 0
}

func (w *window) exclusion() {
	w.buckets[w.head].TotalExclusions++
	w.total.TotalExclusions++
}

// counts returns the window's Counts.
func (w *window) counts() Counts {
	c := w.total
	c.ConsecutiveSuccesses = min(c.ConsecutiveSuccesses, c.TotalSuccesses)
	c.ConsecutiveFailures = min(c.ConsecutiveFailures, c.TotalFailures)
	return c
}
