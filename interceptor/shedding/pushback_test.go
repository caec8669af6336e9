package shedding

import (
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/grpckit/grpckit/interceptor/ratelimit"
)

// TestPushbackBounded: the pushback a shed call gets is at least 1 ms and
// at most maxPushback, whatever the latency the limiter saw (zero, a
// long-poll of an hour, a sum that overflowed).
func TestPushbackBounded(t *testing.T) {
	for _, lat := range []time.Duration{0, 1, time.Millisecond, time.Hour, math.MaxInt64 / 2, math.MaxInt64, -time.Hour, math.MinInt64} {
		for _, q := range []time.Duration{0, time.Second, math.MaxInt64} {
			l, _, _ := newFake()
			l.apply(estimate{rate: 100, latency: lat, queue: q, target: time.Millisecond, overloaded: true}, 0)
			d := l.shedCall()
			if d < time.Millisecond || d > maxPushback {
				t.Errorf("latency %v, queue %v: pushback %v, want 1ms..%v", lat, q, d, maxPushback)
			}
			v := pushbackMD(d).Get(ratelimit.PushbackTrailer)
			ms, err := strconv.ParseInt(v[0], 10, 64)
			if len(v) != 1 || err != nil || ms < 1 || ms > maxPushback.Milliseconds() {
				t.Errorf("latency %v, queue %v: trailer %q, want one integer 1..%d", lat, q, v, maxPushback.Milliseconds())
			}
		}
	}
}
