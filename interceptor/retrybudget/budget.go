package retrybudget

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Budget is a retry budget: over its sliding window, retries may reach
// Ratio times the successes deposited plus MinPerSecond times the window's
// length in seconds. Its interceptors deposit successes and withdraw
// retries; Deposit and TryRetry serve other callers (a hand-written retry
// loop, a hedging policy).
//
// The zero value is not usable; build one with New. A Budget is safe for
// concurrent use, has no goroutines and needs no Close. Deposit is
// lock-free and allocation-free; TryRetry takes a mutex.
type Budget struct {
	opts    options
	bucket  time.Duration
	reserve float64 // MinPerSecond · window in seconds
	policy  callPolicy
	base    time.Time
	clock   func() time.Duration // since base; tests replace it

	deposits []counter // lock-free ring, by epoch mod len

	mu      sync.Mutex // guards retries and last
	retries []tagged
	last    uint32 // the latest epoch a retry was counted in
}

// New returns a Budget configured by opts. Invalid options, nil ones
// included (named by their position), are reported here, all at once.
func New(opts ...Option) (*Budget, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	b := &Budget{
		opts:     o,
		bucket:   o.window / time.Duration(o.buckets),
		reserve:  o.minPerSec * o.window.Seconds(),
		base:     time.Now(),
		deposits: make([]counter, o.buckets),
		retries:  make([]tagged, o.buckets),
	}
	b.policy.set(o.policy)
	b.clock = func() time.Duration { return time.Since(b.base) }
	return b, nil
}

// epoch numbers the bucket current now, from 1.
func (b *Budget) epoch() uint32 { return uint32(b.clock()/b.bucket) + 1 }

// Deposit records a successful call.
func (b *Budget) Deposit() { b.deposit() }

// deposit records a success and returns the epoch it was counted in.
func (b *Budget) deposit() uint32 {
	e := b.epoch()
	return b.deposits[e%uint32(len(b.deposits))].add(e)
}

// TryRetry reports whether a retry may be sent now, and if so counts it.
func (b *Budget) TryRetry() bool {
	_, ok := b.withdraw()
	return ok
}

// Available returns how many retries the budget would allow now.
func (b *Budget) Available() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.current()
	return max(0, b.limit(e)-b.retriesIn(e))
}

// current returns the epoch a retry counts in now: the clock's, or the
// latest a retry was counted in if that is later (a caller that read the
// clock before another counted a retry in a later bucket counts in that
// bucket, so buckets behind the latest never change). Epochs wrap after
// 2^32 buckets; a retry count idle for a window or more is cleared, so
// that no wrapped tag passes for a current one. The caller holds mu.
func (b *Budget) current() uint32 {
	e := b.epoch()
	if b.last-e < ringAhead {
		return b.last
	}
	if e-b.last >= uint32(len(b.retries)) {
		clear(b.retries)
	}
	return e
}

// withdraw counts a retry if the budget allows it, and returns the epoch it
// was counted in.
func (b *Budget) withdraw() (uint32, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.current()
	if b.retriesIn(e) >= b.limit(e) {
		return e, false
	}
	b.last = e
	r := &b.retries[e%uint32(len(b.retries))]
	if r.epoch != e {
		*r = tagged{epoch: e}
	}
	r.n++
	return e, true
}

// limit is the number of retries allowed in the window ending with epoch e.
func (b *Budget) limit(e uint32) int {
	var d uint64
	n := uint32(len(b.deposits))
	for i := range b.deposits {
		d += b.deposits[i].count(e, n)
	}
	l := b.opts.ratio*float64(d) + b.reserve
	if !(l < maxLimit) {
		return maxLimit // a float beyond int's range would convert to a negative limit
	}
	return int(math.Floor(l))
}

// maxLimit caps the retries a window allows, far beyond any real count.
const maxLimit = 1 << 62

// retriesIn is the number of retries counted in the window ending with
// epoch e. The caller holds mu.
func (b *Budget) retriesIn(e uint32) int {
	n := uint32(len(b.retries))
	total := 0
	for _, r := range b.retries {
		if e-r.epoch < n {
			total += r.n
		}
	}
	return total
}

// tagged is a retry count and the epoch it counts for.
type tagged struct {
	epoch uint32
	n     int
}

// ringAhead bounds how far past a caller's epoch a tag may be and still be
// a later epoch rather than a stale or wrapped one: a late clock reader is
// late by far less than 2^16 buckets.
const ringAhead = 1 << 16

// saturated is where a counter stops counting, so that however many
// callers add at once, the count never carries into the tag.
const saturated = 1 << 31

// counter is an epoch-tagged count in one atomic word: epoch<<32 | count,
// saturating at about 2^31.
// Tags wrap after 2^32 buckets: a counter idle for a multiple of that
// (within a window) shows its old count once, until its slot is reused.
type counter struct{ w atomic.Uint64 }

// add counts one in epoch and returns the epoch it was counted in: a
// counter already on a later epoch (this caller read the clock just before
// it moved on) takes the count there; any other tag is stale, however far
// back it wrapped.
func (c *counter) add(epoch uint32) uint32 {
	for {
		w := c.w.Load()
		if tag := uint32(w >> 32); tag-epoch < ringAhead {
			if uint32(w) >= saturated {
				return tag
			}
			return uint32(c.w.Add(1) >> 32)
		}
		if c.w.CompareAndSwap(w, uint64(epoch)<<32|1) {
			return epoch
		}
	}
}

// count returns the count if the counter's epoch is one of the n ending
// with epoch.
func (c *counter) count(epoch, n uint32) uint64 {
	w := c.w.Load()
	if epoch-uint32(w>>32) < n {
		return uint64(uint32(w))
	}
	return 0
}
