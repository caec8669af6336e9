package retrybudget

import "testing"

// TestCounterSaturates: a bucket's successes live in the low 32 bits of a
// word whose high half tags its bucket. A count that reaches 2^32 (1.2
// million successes a second with a one-hour, one-bucket window) must
// saturate, not carry into the tag, which would move the count to the
// next bucket and restart it from 0.
func TestCounterSaturates(t *testing.T) {
	const e = 7
	var c counter
	c.w.Store(uint64(e)<<32 | (1<<32 - 2))
	for range 3 {
		if got := c.add(e); got != e {
			t.Fatalf("counted in bucket %d, want %d", got, e)
		}
	}
	if n := c.count(e, 1); n < 1<<31 {
		t.Errorf("after 2^32+1 successes in bucket %d: count %d, want at least 2^31", e, n)
	}
}
