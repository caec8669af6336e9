package shedding

import (
	"math"
	"runtime/metrics"
	"time"
)

// schedLatencies is the runtime's histogram of how long goroutines were
// runnable before they ran.
const schedLatencies = "/sched/latencies:seconds"

// schedProbe measures the process's scheduling delay: the mean time its
// goroutines waited for a CPU since the last read. A server whose CPUs are
// saturated queues new calls there, in the scheduler's run queue, before any
// interceptor runs, so this is where overload shows first. It is not safe for
// concurrent use.
type schedProbe struct {
	sample []metrics.Sample
	prev   []uint64 // bucket counts at the last read
}

func newSchedProbe() *schedProbe {
	p := &schedProbe{sample: []metrics.Sample{{Name: schedLatencies}}}
	p.read() // the first read only sets prev
	return p
}

// read returns the scheduling delay since the previous read: the delay that
// a tenth of the goroutines made runnable waited longer than (its 90th
// percentile), 0 when nothing was scheduled or the runtime does not report
// it. A call is several goroutine wake-ups (the transport's reader and
// writer, the call's own goroutine): when calls queue for a CPU, their own
// wake-ups are the long tail, which a mean of all wake-ups would dilute.
func (p *schedProbe) read() time.Duration {
	metrics.Read(p.sample)
	if p.sample[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0
	}
	h := p.sample[0].Value.Float64Histogram()
	if len(p.prev) != len(h.Counts) {
		p.prev = make([]uint64, len(h.Counts))
		copy(p.prev, h.Counts)
		return 0
	}
	var n uint64
	for i, c := range h.Counts {
		n += c - p.prev[i]
	}
	if n == 0 {
		return 0
	}
	rank := n - n/10 // the first wake-up of the slowest tenth
	var seen uint64
	var q float64
	for i, c := range h.Counts {
		d := c - p.prev[i]
		p.prev[i] = c
		if seen < rank && seen+d >= rank {
			q = bucketMid(h.Buckets[i], h.Buckets[i+1])
		}
		seen += d
	}
	return time.Duration(q * float64(time.Second))
}

// bucketMid is a representative value of the bucket [lo, hi): its middle,
// or its finite bound when the other is infinite.
func bucketMid(lo, hi float64) float64 {
	switch {
	case math.IsInf(lo, -1):
		return max(hi, 0)
	case math.IsInf(hi, 1):
		return lo
	}
	return (lo + hi) / 2
}
