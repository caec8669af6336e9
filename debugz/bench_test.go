package debugz

import (
	"fmt"
	"sync/atomic"
	"testing"

	"golang.org/x/time/rate"
	"google.golang.org/grpc/balancer"

	"github.com/grpckit/grpckit/interceptor/ratelimit"
)

// fakeSubConn is a SubConn of its own identity.
type fakeSubConn struct {
	balancer.SubConn
	id int
}

// rrPicker is a round-robin picker over scs, as grpc-go's own, with an
// optional Done of its own.
type rrPicker struct {
	scs  []balancer.SubConn
	next atomic.Uint32
	done func(balancer.DoneInfo)
}

func (p *rrPicker) Pick(balancer.PickInfo) (balancer.PickResult, error) {
	i := p.next.Add(1) % uint32(len(p.scs))
	return balancer.PickResult{SubConn: p.scs[i], Done: p.done}, nil
}

func newRRPicker(n int, withDone bool) (*rrPicker, *picker) {
	child := &rrPicker{}
	wrapped := &picker{child: child, scs: make(map[balancer.SubConn]*endpointStats, n)}
	for i := range n {
		sc := &fakeSubConn{id: i}
		child.scs = append(child.scs, sc)
		wrapped.scs[sc] = newEndpointStats(fmt.Sprint(i))
	}
	if withDone {
		child.done = func(balancer.DoneInfo) {}
	}
	return child, wrapped
}

func benchPick(b *testing.B, p balancer.Picker) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := p.Pick(balancer.PickInfo{})
			if err != nil {
				b.Fatal(err)
			}
			if res.Done != nil {
				res.Done(balancer.DoneInfo{})
			}
		}
	})
}

// BenchmarkPick measures Pick+Done of a round-robin child alone and
// wrapped by the debugz picker, for children with and without a Done of
// their own, at 10 and 1000 endpoints.
func BenchmarkPick(b *testing.B) {
	for _, n := range []int{10, 1000} {
		for _, withDone := range []bool{false, true} {
			child, wrapped := newRRPicker(n, withDone)
			name := fmt.Sprintf("n=%d/childDone=%v", n, withDone)
			b.Run(name+"/child", func(b *testing.B) { benchPick(b, child) })
			b.Run(name+"/debugz", func(b *testing.B) { benchPick(b, wrapped) })
		}
	}
}

// TestPickAllocs: a wrapped Pick and its Done allocate nothing, whether
// the child has a Done or not.
func TestPickAllocs(t *testing.T) {
	for _, withDone := range []bool{false, true} {
		_, p := newRRPicker(10, withDone)
		allocs := testing.AllocsPerRun(1000, func() {
			res, _ := p.Pick(balancer.PickInfo{})
			res.Done(balancer.DoneInfo{})
		})
		if allocs != 0 {
			t.Errorf("childDone=%v: %v allocations per Pick+Done", withDone, allocs)
		}
		for _, rec := range p.scs {
			if rec.inFlight.Load() != 0 {
				t.Errorf("childDone=%v: %s has %d in flight after every Done", withDone, rec.addr, rec.inFlight.Load())
			}
		}
	}
}

// BenchmarkLimiter measures Reserve of a token bucket alone and wrapped by
// Page.Limiter, under RunParallel, over 64 keys: a bucket that admits nearly
// every call (admit) and one that rejects nearly every call (reject, which
// samples each into the summary).
func BenchmarkLimiter(b *testing.B) {
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = fmt.Sprintf("10.0.0.%d", i)
	}
	run := func(b *testing.B, l ratelimit.Limiter) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				l.Reserve(keys[i%len(keys)], 0)
				i++
			}
		})
	}
	for _, c := range []struct {
		name  string
		limit float64
	}{{"admit", 1e9}, {"reject", 1}} {
		newBucket := func(b *testing.B) ratelimit.Limiter {
			tb, err := ratelimit.NewTokenBucket(rate.Limit(c.limit), 1)
			if err != nil {
				b.Fatal(err)
			}
			return tb
		}
		b.Run(c.name+"/tokenbucket", func(b *testing.B) { run(b, newBucket(b)) })
		b.Run(c.name+"/debugz", func(b *testing.B) { run(b, New().Limiter("l", newBucket(b))) })
	}
}
