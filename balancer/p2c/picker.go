package p2c

import (
	"sync"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/balancer/internal/shard"
)

// endpoint is one READY endpoint in a picker.
type endpoint struct {
	picker    balancer.Picker // the endpoint's pickfirst picker
	stats     *stats          // owned by the balancer, shared across pickers
	invWeight float64         // 1 / effective weight (slow start included)
}

// picker is an immutable snapshot of the READY endpoints. Pick draws two
// distinct endpoints at random and takes the cheaper, where cost is the
// decayed peak-EWMA latency × (in flight + 1) ÷ weight. It takes no lock: the
// random numbers come from math/rand/v2's per-thread generator and the load
// from atomics; the Done callback comes from a sync.Pool, so steady-state
// picks allocate nothing.
type picker struct {
	eps     []endpoint
	tau     float64 // DecayTime in nanoseconds
	penalty float64 // ErrorPenalty in nanoseconds
	now     shard.Clock
	rand    func() uint64
}

// Pick chooses an endpoint and counts the RPC in flight until Done.
func (p *picker) Pick(info balancer.PickInfo) (balancer.PickResult, error) {
	now := p.now()
	e := p.choose(now)
	res, err := e.picker.Pick(info)
	if err != nil {
		return res, err
	}
	// pickfirst's picker sets no Done of its own, so there is none to chain.
	e.stats.inflight.Add(1)
	c := callPool.Get().(*call)
	c.stats, c.picker, c.start = e.stats, p, now
	res.Done = c.done
	return res, nil
}

// choose returns the cheaper of two distinct endpoints drawn at random.
func (p *picker) choose(now int64) *endpoint {
	n := uint32(len(p.eps))
	if n == 1 {
		return &p.eps[0]
	}
	r := p.rand()
	i := uint32(r) % n
	j := uint32(r>>32) % (n - 1)
	if j >= i {
		j++
	}
	a, b := &p.eps[i], &p.eps[j]
	if p.cost(b, now) < p.cost(a, now) {
		return b
	}
	return a
}

// cost is the endpoint's expected wait for one more RPC, per unit of weight.
// An estimate below 1ns counts as 1ns, so that endpoints without measurements
// still compare by load.
func (p *picker) cost(e *endpoint, now int64) float64 {
	est := max(e.stats.estimate(now, p.tau), 1)
	return est * float64(e.stats.inflight.Load()+1) * e.invWeight
}

// sample returns the latency a finished RPC counts as, and false when it
// should not count: the caller cancelled it, or no RPC was sent (gRPC calls
// Done with an empty DoneInfo when the picked connection was not usable).
func (p *picker) sample(info balancer.DoneInfo, rtt float64) (float64, bool) {
	if info.Err == nil {
		if !info.BytesSent && !info.BytesReceived {
			return 0, false
		}
		return rtt, true
	}
	switch status.Code(info.Err) {
	case codes.Canceled:
		return 0, false
	case codes.ResourceExhausted, codes.Unavailable:
		return max(rtt, p.penalty), true
	}
	return rtt, true
}

// call is one picked RPC in flight. Calls are pooled: done is bound once,
// when the call is created, so handing it to gRPC allocates nothing.
type call struct {
	stats  *stats
	picker *picker
	start  int64
	done   func(balancer.DoneInfo)
}

// callPool holds idle calls. Its New is set in init: finish refers to the pool.
var callPool sync.Pool

func init() { callPool.New = newCall }

func newCall() any {
	c := &call{}
	c.done = c.finish
	return c
}

// finish is the pick's Done: it ends the RPC's in-flight count and feeds its
// latency to the estimate. gRPC calls it at most once per pick.
func (c *call) finish(info balancer.DoneInfo) {
	s, p, start := c.stats, c.picker, c.start
	c.stats, c.picker = nil, nil
	callPool.Put(c)
	s.inflight.Add(-1)
	now := p.now()
	if rtt, ok := p.sample(info, float64(now-start)); ok {
		s.observe(rtt, now, p.tau)
	}
}
