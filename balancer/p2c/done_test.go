package p2c

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/balancer"
)

// sampledRand returns a rand for a picker that yields r's numbers with the
// top sampleShift bits cleared when sampled, set otherwise: every pick is
// sampled, or none is.
func sampledRand(r *rand.Rand, sampled bool) func() uint64 {
	return func() uint64 {
		v := r.Uint64() >> sampleShift
		if !sampled {
			v |= 1 << 63
		}
		return v
	}
}

// TestDoneCalledTwiceModel picks and calls Done zero to three times per
// pick, in random order, sampled and unsampled, so that pooled calls are
// reused while a stale Done is still to come. Whatever gRPC's caller does
// wrong, no Pick or Done panics, an endpoint's in-flight count stays within
// [0, picks on it with no Done yet], and it is 0 once every pick had a Done.
func TestDoneCalledTwiceModel(t *testing.T) {
	for _, sampled := range []bool{false, true} {
		for seed := range uint64(50) {
			r := rand.New(rand.NewPCG(seed, 2))
			f := newFixture(3)
			f.p.rand = sampledRand(r, sampled)
			type pending struct {
				ep    int
				done  func(balancer.DoneInfo)
				calls int
			}
			var picks []*pending
			outstanding := make([]int, 3)
			check := func(step int, op string) {
				t.Helper()
				for i, e := range f.p.eps {
					if got := e.stats.inflight.Load(); got < 0 || got > int64(outstanding[i]) {
						t.Fatalf("sampled=%v seed %d step %d (%s): endpoint %d in flight %d, want within [0, %d]", sampled, seed, step, op, i, got, outstanding[i])
					}
				}
			}
			for step := range 300 {
				if len(picks) == 0 || r.IntN(3) == 0 {
					i, done := f.pick(t)
					picks = append(picks, &pending{ep: i, done: done})
					outstanding[i]++
					check(step, "pick")
					continue
				}
				p := picks[r.IntN(len(picks))]
				if p.calls >= 3 {
					continue
				}
				f.now += time.Millisecond
				p.done(balancer.DoneInfo{BytesSent: true, BytesReceived: true})
				if p.calls == 0 {
					outstanding[p.ep]--
				}
				p.calls++
				check(step, "done")
			}
			for _, p := range picks {
				if p.calls == 0 {
					p.done(balancer.DoneInfo{})
					outstanding[p.ep]--
					p.calls++
				}
			}
			for i, e := range f.p.eps {
				if got := e.stats.inflight.Load(); got != 0 {
					t.Errorf("sampled=%v seed %d: endpoint %d in flight %d after every pick's Done, want 0", sampled, seed, i, got)
				}
			}
		}
	}
}

// TestDoneCalledTwiceConcurrently calls each pick's Done twice from
// goroutines that share the call pool, under -race: no race, no panic, and
// nothing left in flight.
func TestDoneCalledTwiceConcurrently(t *testing.T) {
	prm := testParams(func() int64 { return time.Now().UnixNano() })
	p := &picker{eps: testEndpoints(prm, 4), params: prm.Load(), rand: func() uint64 { return rand.Uint64() >> 2 }} // one in four sampled
	info := balancer.PickInfo{Ctx: context.Background()}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 2000 {
				res, err := p.Pick(info)
				if err != nil {
					t.Error(err)
					return
				}
				res.Done(balancer.DoneInfo{BytesSent: true, BytesReceived: true})
				res.Done(balancer.DoneInfo{BytesSent: true, BytesReceived: true})
			}
		})
	}
	wg.Wait()
	for i, e := range p.eps {
		if got := e.stats.inflight.Load(); got != 0 {
			t.Errorf("endpoint %d in flight %d, want 0", i, got)
		}
	}
}

// TestDoneAfterEndpointRemoved finishes RPCs whose endpoint was removed
// meanwhile, and that came back: nothing panics, and the endpoint that came
// back counts only its own picks.
func TestDoneAfterEndpointRemoved(t *testing.T) {
	h := newHarness(t)
	if err := h.update(nil, "a:1", "b:1"); err != nil {
		t.Fatal(err)
	}
	h.cc.SetAllReady()
	var dones []func(balancer.DoneInfo)
	p := h.picker()
	for _, sampled := range []bool{false, true} {
		p.rand = sampledRand(rand.New(rand.NewPCG(1, 1)), sampled)
		for range 8 {
			res, err := p.Pick(balancer.PickInfo{Ctx: context.Background()})
			if err != nil {
				t.Fatal(err)
			}
			dones = append(dones, res.Done)
		}
	}
	if err := h.update(nil, "b:1"); err != nil {
		t.Fatal(err)
	}
	for _, d := range dones {
		d(balancer.DoneInfo{BytesSent: true, BytesReceived: true})
	}
	if err := h.update(nil, "a:1", "b:1"); err != nil {
		t.Fatal(err)
	}
	h.cc.SetAllReady()
	for _, addr := range []string{"a:1", "b:1"} {
		if got := h.statsOf(addr).inflight.Load(); got != 0 {
			t.Errorf("%s in flight %d after every Done, want 0", addr, got)
		}
	}
	for _, d := range dones {
		d(balancer.DoneInfo{BytesSent: true, BytesReceived: true}) // and once more
	}
	for _, addr := range []string{"a:1", "b:1"} {
		if got := h.statsOf(addr).inflight.Load(); got != 0 {
			t.Errorf("%s in flight %d after a second Done of every pick, want 0", addr, got)
		}
	}
}
