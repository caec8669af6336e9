package wrr

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/balancer"

	"github.com/grpckit/grpckit/balancer/internal/shard"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// picker walks a precomputed smooth weighted round robin period over the READY
// endpoints. It is immutable but for next; Pick takes no lock and allocates
// nothing, and costs the same whatever the number of endpoints.
type picker struct {
	children []balancer.Picker // the READY endpoints' pickfirst pickers, by address
	schedule []uint32          // one period: indices into children
	recip    uint64            // modRecip(len(schedule)), for slot
	next     atomic.Uint32     // picks so far, including the inherited phase

	// For metrics only: the READY endpoints' addresses and effective
	// weights, in children's order.
	addrs   []string
	weights []uint32
}

// Pick returns the next endpoint of the schedule.
func (p *picker) Pick(info balancer.PickInfo) (balancer.PickResult, error) {
	i := p.next.Add(1) - 1
	return p.children[p.schedule[p.slot(i)]].Pick(info)
}

// slot returns i % len(p.schedule) with two multiplications instead of a
// division (Lemire, Kaser and Kurz, "Faster remainder by direct
// computation", 2019): exact for 32-bit i and n.
func (p *picker) slot(i uint32) uint32 {
	hi, _ := bits.Mul64(p.recip*uint64(i), uint64(len(p.schedule)))
	return uint32(hi)
}

// modRecip returns the reciprocal slot multiplies by: ⌈2^64 / n⌉.
func modRecip(n int) uint64 { return math.MaxUint64/uint64(n) + 1 }

// phase returns how far through its period p is, in [0, 1).
func (p *picker) phase() float64 {
	n := uint32(len(p.schedule))
	return float64(p.next.Load()%n) / float64(n)
}

// policy is the wrr shard.Policy. It has no per-endpoint state: weights are
// static and the schedule is rebuilt from them.
type policy struct {
	cfg  *Config
	last *picker // the newest picker built, whose phase the next one continues
}

// ramping reports whether any endpoint is still in its slow start.
func ramping(ready []shard.Ready[struct{}], window time.Duration, now int64) bool {
	for _, r := range ready {
		if shard.Ramping(window, r.ReadySince, now) {
			return true
		}
	}
	return false
}

// rampScale is the weight resolution while endpoints ramp: full weight is
// multiplied by it so that a ramping endpoint's share moves in small steps.
const rampScale = 20

// weights returns the effective weights of ready at now. A weight above
// kitresolver.MaxWeight counts as MaxWeight, whatever the endpoint claims, and
// the ramped weight is clamped before it becomes a uint32, so nothing wraps.
func weights(ready []shard.Ready[struct{}], window time.Duration, now int64) []uint32 {
	w := make([]uint32, len(ready))
	ramps := ramping(ready, window, now)
	for i, r := range ready {
		full := min(r.Weight, kitresolver.MaxWeight)
		if !ramps {
			w[i] = full
			continue
		}
		f := shard.Ramp(window, r.ReadySince, now, shard.MinRampFraction)
		w[i] = uint32(min(math.MaxUint32, max(1, math.Round(float64(full)*rampScale*f))))
	}
	return w
}

// Picker builds a picker that continues the previous picker's phase, so that a
// rebuild (an endpoint flapping, a weight changing) does not send the start of
// the period, and the endpoints there, an extra share.
func (p *policy) Picker(ready []shard.Ready[struct{}], now int64) (balancer.Picker, time.Duration) {
	window := p.cfg.window()
	w := weights(ready, window, now)
	np := &picker{
		children: make([]balancer.Picker, len(ready)),
		schedule: schedule(w),
		addrs:    make([]string, len(ready)),
		weights:  w,
	}
	np.recip = modRecip(len(np.schedule))
	for i, r := range ready {
		np.children[i] = r.Picker
		np.addrs[i] = r.Addr
	}
	if p.last != nil {
		np.next.Store(uint32(p.last.phase() * float64(len(np.schedule))))
	}
	p.last = np
	if ramping(ready, window, now) {
		return np, shard.RefreshInterval(window)
	}
	return np, 0
}
