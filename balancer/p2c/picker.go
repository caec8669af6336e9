package p2c

import (
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// sampleShift sets how often a pick's latency is measured: when the top
// sampleShift bits of the pick's random number are zero, one pick in
// 2^sampleShift. Reading the clock twice costs more than the rest of a pick,
// and one sample in sixteen still moves the peak estimate within a few picks
// of a backend turning slow. Errors are charged on every pick.
const sampleShift = 4

// endpoint is one READY endpoint in a picker.
type endpoint struct {
	picker       balancer.Picker // the endpoint's pickfirst picker
	stats        *stats          // owned by the balancer, shared across pickers
	logInvWeight float64         // −ln(effective weight), slow start included
}

// picker is an immutable snapshot of the READY endpoints. Pick draws two
// distinct endpoints at random and takes the cheaper, where cost is the
// decayed peak-EWMA latency × (in flight + 1) ÷ weight. It takes no lock: the
// random number comes from math/rand/v2's per-thread generator and the load
// from atomics. Unsampled picks hand gRPC the endpoint's own Done; sampled
// ones a pooled call, so steady-state picks allocate nothing.
type picker struct {
	eps    []endpoint
	params *params
	rand   func() uint64
	addrs  []string // the endpoints' addresses, in eps's order; for metrics only
}

// Pick chooses an endpoint and counts the RPC in flight until Done.
func (p *picker) Pick(info balancer.PickInfo) (balancer.PickResult, error) {
	r := p.rand()
	e := p.choose(r)
	res, err := e.picker.Pick(info)
	if err != nil {
		return res, err
	}
	// pickfirst's picker sets no Done of its own, so there is none to chain.
	e.stats.inflight.Add(1)
	if r>>(64-sampleShift) != 0 {
		res.Done = e.stats.done
		return res, nil
	}
	c := callPool.Get().(*call)
	c.start.Store(p.params.now())
	c.stats.Store(e.stats) // last: finish takes the call by swapping it out
	res.Done = c.done
	return res, nil
}

// choose returns the cheaper of two distinct endpoints drawn with r: the low
// 32 bits pick the first, the next 24 the second, each scaled to its range by
// a multiply and a shift rather than a division.
func (p *picker) choose(r uint64) *endpoint {
	n := uint64(len(p.eps))
	if n == 1 {
		return &p.eps[0]
	}
	i := (r & 0xffffffff) * n >> 32
	j := (r >> 32 & 0xffffff) * (n - 1) >> 24
	if j >= i {
		j++
	}
	a, b := &p.eps[i], &p.eps[j]
	if b.logCost() < a.logCost() {
		return b
	}
	return a
}

// logCost is ln(estimate × (in flight + 1) ÷ weight) + now/τ; the last term
// is the same for every endpoint, so it is left out.
func (e *endpoint) logCost() float64 {
	return e.stats.logKey() + logCount(e.stats.inflight.Load()+1) + e.logInvWeight
}

// sample returns the latency a finished RPC counts as, and false when it
// should not count: the caller cancelled it, or no RPC was sent (gRPC calls
// Done with an empty DoneInfo when the picked connection was not usable).
func (prm *params) sample(info balancer.DoneInfo, rtt float64) (float64, bool) {
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
		return max(rtt, prm.penalty), true
	}
	return rtt, true
}

// call is one sampled RPC in flight. Calls are pooled: done is bound once,
// when the call is created, so handing it to gRPC allocates nothing.
//
// gRPC calls a pick's Done once. A caller that calls it again (a wrapping
// picker with a bug) must not break the policy: the first finish swaps
// stats out, so a second one before the call is reused does nothing; after
// it was reused, it finishes the new pick's call early, and that pick's own
// Done then does nothing. Either way every use of a call ends its in-flight
// count once, on its own endpoint, and at worst one latency is measured
// short. The fields are atomics because such a stale Done may run while
// another goroutine reuses the call.
type call struct {
	stats atomic.Pointer[stats] // nil while the call is idle
	start atomic.Int64
	done  func(balancer.DoneInfo)
}

// callPool holds idle calls. Its New is set in init: finish refers to the pool.
var callPool sync.Pool

func init() { callPool.New = newCall }

func newCall() any {
	c := &call{}
	c.done = c.finish
	return c
}

// finish is a sampled pick's Done: it ends the RPC's in-flight count and feeds
// its latency to the estimate.
func (c *call) finish(info balancer.DoneInfo) {
	s := c.stats.Swap(nil)
	if s == nil {
		return // finished already
	}
	start := c.start.Load()
	callPool.Put(c)
	s.release()
	prm := s.params.Load()
	now := prm.now()
	if rtt, ok := prm.sample(info, float64(now-start)); ok {
		s.observe(rtt, now)
	}
}
