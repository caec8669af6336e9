package breaker

import (
	"testing"
	"time"
)

// TestThrottleLongIdleKeepsCounting: the ring's counters tag their counts
// with a 32-bit bucket number, which wraps. A key idle for any number of
// buckets (here 2^31 + k of them, a few days at a 100 µs bucket) must count
// its next calls: a stale tag must never pass for a later bucket's (the
// tags wrap after 2^32 buckets, so idle times near a multiple of that are
// left out).
func TestThrottleLongIdleKeepsCounting(t *testing.T) {
	const bucket = 100 * time.Microsecond
	for _, idle := range []int64{1 << 31, 1<<31 + 1, 1<<31 + 7, 3 << 30, 1<<32 - 1<<20} {
		tr, now := fakeThrottle(t, Throttling{Window: 10 * bucket, Buckets: 10, MinRequests: 1}, 1)
		th := tr.get("k")
		for i := range 10 { // one outcome in every bucket of the ring
			now.Store(int64(time.Duration(i) * bucket))
			tr.done(th, nil)
		}
		start := time.Duration(idle) * bucket
		for i := range 10 {
			now.Store(int64(start + time.Duration(i)*bucket))
			tr.done(th, errFailure)
		}
		if _, req, acc := tr.Probability("k"); req != 10 || acc != 0 {
			t.Errorf("after %d idle buckets, 10 failures in the window: %d requests, %d accepts; want 10, 0", idle, req, acc)
		}
	}
}
