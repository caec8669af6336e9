package breaker

import "testing"

// TestThrottleCounterSaturates: a bucket's count lives in the low 32 bits
// of a word whose high half tags its bucket. A count that reaches 2^32
// (a key with 1.2 million calls a second and a one-hour, one-bucket
// window) must saturate, not carry into the tag, which would move the
// count to the next bucket and restart it from 0.
func TestThrottleCounterSaturates(t *testing.T) {
	const e = 7
	var c counter
	c.w.Store(uint64(e)<<32 | (1<<32 - 2))
	for range 3 {
		c.add(e)
	}
	if tag, n := uint32(c.w.Load()>>32), c.count(e, 1); tag != e || n < 1<<31 {
		t.Errorf("after 2^32+1 calls in bucket %d: tag %d, count %d; want tag %d and a count of at least 2^31", e, tag, n, e)
	}
}
