package watchshare

import (
	"math/rand/v2"
	"time"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// RelistSpread bounds the random wait RetryDelay adds before the first
// retry after a watch that worked breaks.
const RelistSpread = time.Second

// RetryDelay returns how long a watch waits before its retry number attempt
// (0 for the first after a working watch broke or after start): b.Delay,
// and for attempt 0 also a wait drawn uniformly from [0, min(RelistSpread,
// b.Max)).
//
// A registry restart or outage breaks the watches of every process at the
// same moment, and b.Delay(0) alone (100 ms ±20 % by default) would bring
// them all back within a few tens of milliseconds of each other. The extra
// wait spreads those first retries evenly over a second (or over b.Max when
// it is shorter); the later retries of a long outage keep that spread, and
// each step's own jitter adds to it. It delays only a re-read: the channels
// keep serving the last good set meanwhile.
func RetryDelay(b kitresolver.Backoff, attempt int) time.Duration {
	d := b.Delay(attempt)
	if attempt == 0 {
		if spread := min(RelistSpread, b.Max); spread > 0 {
			d += rand.N(spread)
		}
	}
	return d
}
