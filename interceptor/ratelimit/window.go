package ratelimit

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// SlidingWindow is a Limiter that admits at most limit requests per key in
// any window of the given length, estimated with a sliding-window counter:
// the count of the current fixed window plus the count of the previous one
// weighted by how much of it the sliding window still covers. Each key costs
// a few integers whatever its traffic (no list of timestamps). Keys live in a
// sharded store with a memory bound (see WithMaxKeys and WithIdleTimeout).
//
// In wait mode a request may book a slot later in the current window or in
// the next one, never further ahead; a wait that ends with the caller's
// context gives its slot back (see Canceler).
//
// A SlidingWindow is safe for concurrent use. Its zero value is not usable;
// make one with NewSlidingWindow.
type SlidingWindow struct {
	limit  int64
	window time.Duration
	clock  Clock
	keys   *store[windowCounter]
}

// windowCounter is the state of one key.
type windowCounter struct {
	mu    sync.Mutex
	index int64 // number of the current fixed window since the Unix epoch
	cur   int64 // admitted (or booked) in the current window
	prev  int64 // admitted in the previous window
	next  int64 // booked for the next window by waiting requests
}

// NewSlidingWindow returns a sliding-window counter per key admitting limit
// requests per window. It refuses a limit below 1 and a window that is not
// positive.
func NewSlidingWindow(limit int, window time.Duration, opts ...LimiterOption) (*SlidingWindow, error) {
	if limit < 1 {
		return nil, fmt.Errorf("%w: sliding window limit %d can never admit a request", ErrInvalidConfig, limit)
	}
	if window <= 0 {
		return nil, fmt.Errorf("%w: sliding window length %v is not positive", ErrInvalidConfig, window)
	}
	lo, err := evalLimiterOptions(opts)
	if err != nil {
		return nil, err
	}
	if lo.idle == 0 {
		lo.idle = 2 * window
	}
	sw := &SlidingWindow{limit: int64(limit), window: window, clock: lo.clock}
	sw.keys = newStore(lo.maxKeys, lo.idle, nil, sw.counterAtRest) // Unix nanoseconds
	registerKeyMetrics(lo.meterProvider, sw)
	return sw, nil
}

// Limit returns how many requests a window admits.
func (sw *SlidingWindow) Limit() int { return int(sw.limit) }

// Window returns the window length.
func (sw *SlidingWindow) Window() time.Duration { return sw.window }

// Allow reports whether a request under key may go ahead now, counting it if
// so. It does not allocate once the key exists.
func (sw *SlidingWindow) Allow(key string) bool {
	_, ok := sw.Reserve(key, 0)
	return ok
}

// Reserve implements Limiter.
func (sw *SlidingWindow) Reserve(key string, maxWait time.Duration) (time.Duration, bool) {
	ns := sw.clock.Now().UnixNano()
	c := sw.keys.get(key, ns)
	w := int64(sw.window)
	c.mu.Lock()
	defer c.mu.Unlock()
	elapsed := c.rollLocked(ns, w)
	return c.reserveLocked(sw.limit, elapsed, w, int64(maxWait))
}

// ReserveAt implements Canceler.
func (sw *SlidingWindow) ReserveAt(key string, maxWait time.Duration) (time.Time, time.Duration, bool) {
	ns := sw.clock.Now().UnixNano()
	c := sw.keys.get(key, ns)
	w := int64(sw.window)
	c.mu.Lock()
	defer c.mu.Unlock()
	elapsed := c.rollLocked(ns, w)
	d, ok := c.reserveLocked(sw.limit, elapsed, w, int64(maxWait))
	return time.Unix(0, c.index*w+elapsed+int64(d)), d, ok
}

// Cancel implements Canceler: unless at has passed, it takes the request
// back out of the count of the window it was booked in.
func (sw *SlidingWindow) Cancel(key string, at time.Time) {
	c := sw.keys.peek(key)
	if c == nil {
		return
	}
	ns, w := sw.clock.Now().UnixNano(), int64(sw.window)
	c.mu.Lock()
	defer c.mu.Unlock()
	elapsed := c.rollLocked(ns, w)
	atNS := at.UnixNano()
	if atNS < c.index*w+elapsed {
		return
	}
	// A request booked in the current window acts before it ends, one
	// booked in the next acts in the next (see reserveLocked).
	switch atNS / w {
	case c.index:
		c.cur = max(c.cur-1, 0)
	case c.index + 1:
		c.next = max(c.next-1, 0)
	}
}

// counterAtRest reports whether c, at Unix nanosecond now, counts nothing
// in the windows that matter then, as a fresh counter does.
func (sw *SlidingWindow) counterAtRest(c *windowCounter, now int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rollLocked(now, int64(sw.window))
	return c.prev == 0 && c.cur == 0 && c.next == 0
}

// rollLocked moves the counter to the fixed window of w nanoseconds that
// holds Unix nanosecond ns, and returns how far into that window ns is.
//
// The clock is read before the lock is taken, so ns may be older than a
// time the counter has already moved to. Such a late reader never moves
// the counter back: it counts as arriving at the start of the counter's
// window, where the previous window weighs the most, so it gets no more
// room than the requests the counter already saw.
func (c *windowCounter) rollLocked(ns, w int64) (elapsed int64) {
	index := ns / w
	switch d := index - c.index; {
	case d < 0:
		return 0
	case d == 0:
		return ns % w
	case d == 1:
		c.prev, c.cur = c.cur, c.next
	case d == 2:
		c.prev, c.cur = c.next, 0
	default:
		c.prev, c.cur = 0, 0
	}
	c.next, c.index = 0, index
	return ns % w
}

// reserveLocked admits or books one request at elapsed nanoseconds into a
// window of w nanoseconds, waiting at most maxWait nanoseconds.
//
// A request counted in a window acts in it: when the estimate has room only
// as the window ends, the request acts in the window's last nanosecond. The
// time a request acts then says which window counts it, which Cancel relies
// on.
func (c *windowCounter) reserveLocked(limit, elapsed, w, maxWait int64) (time.Duration, bool) {
	if c.cur < limit {
		d := untilRoom(c.prev, c.cur, limit, elapsed, w)
		if d == 0 || d <= maxWait {
			c.cur++
			return time.Duration(min(d, w-1-elapsed)), true
		}
		return time.Duration(d), false
	}
	// The current window is full: the next one has room once the weight of
	// this one (its previous) has dropped enough.
	if c.next >= limit {
		return time.Duration(2*w - elapsed), false
	}
	u := untilRoom(c.cur, c.next, limit, 0, w)
	if d := w - elapsed + min(u, w-1); d <= maxWait {
		c.next++
		return time.Duration(d), true
	}
	return time.Duration(w - elapsed + u), false
}

// untilRoom is how many nanoseconds after elapsed the estimate
// prev×(w−t)/w + cur leaves room for one more request, for cur < limit.
// Integer arithmetic: admit at t when prev×(w−t) ≤ (limit−cur−1)×w.
func untilRoom(prev, cur, limit, elapsed, w int64) int64 {
	room := limit - cur - 1
	if prev <= room {
		return 0
	}
	// smallest t with prev×(w−t) ≤ room×w, i.e. t ≥ w − room×w/prev.
	t := w - int64(math.Floor(float64(room)*float64(w)/float64(prev)))
	return max(t-elapsed, 0)
}

// Len returns how many keys the window holds state for, not counting the
// global key "".
func (sw *SlidingWindow) Len() int { return sw.keys.len() }
