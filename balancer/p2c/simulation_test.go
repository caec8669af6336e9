package p2c

import (
	"container/heap"
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/balancer"
)

// The simulation runs on virtual time with a seeded RNG, so it is exact and
// repeatable: 11 backends answer in 5-15ms; backend 5 is ten times slower for
// the middle third of a two-minute run; a request arrives every millisecond.
const (
	simBackends = 11
	simSlow     = 5
	simDuration = 120 * time.Second
	simInterval = time.Millisecond
)

// backendPicker is a child picker standing for one backend.
type backendPicker struct{ sc *simSubConn }

type simSubConn struct {
	balancer.SubConn
	id int
}

func (b backendPicker) Pick(balancer.PickInfo) (balancer.PickResult, error) {
	return balancer.PickResult{SubConn: b.sc}, nil
}

// latency returns how long backend i takes for a request sent at t.
func latency(rng *rand.Rand, i int, t time.Duration) time.Duration {
	d := time.Duration(float64(10*time.Millisecond) * (0.5 + rng.Float64()))
	if i == simSlow && t >= simDuration/3 && t < 2*simDuration/3 {
		d *= 10
	}
	return d
}

// completion is a response due at a virtual time.
type completion struct {
	at   time.Duration
	done func(balancer.DoneInfo)
}

type completions []completion

func (c completions) Len() int           { return len(c) }
func (c completions) Less(i, j int) bool { return c[i].at < c[j].at }
func (c completions) Swap(i, j int)      { c[i], c[j] = c[j], c[i] }
func (c *completions) Push(x any)        { *c = append(*c, x.(completion)) }
func (c *completions) Pop() any {
	old := *c
	x := old[len(old)-1]
	*c = old[:len(old)-1]
	return x
}

// simulate sends the run's requests through pick and returns every request's
// latency and how many each backend served. clock is the virtual clock pick
// reads; simulate moves it.
func simulate(clock *time.Duration, pick func() (int, func(balancer.DoneInfo))) ([]time.Duration, []int) {
	rng := rand.New(rand.NewPCG(7, 11))
	var pending completions
	var lat []time.Duration
	served := make([]int, simBackends)
	for t := time.Duration(0); t < simDuration; t += simInterval {
		for len(pending) > 0 && pending[0].at <= t {
			c := heap.Pop(&pending).(completion)
			*clock = c.at
			if c.done != nil {
				c.done(balancer.DoneInfo{BytesSent: true, BytesReceived: true})
			}
		}
		*clock = t
		i, done := pick()
		d := latency(rng, i, t)
		lat = append(lat, d)
		served[i]++
		heap.Push(&pending, completion{at: t + d, done: done})
	}
	return lat, served
}

func p99(lat []time.Duration) time.Duration {
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[len(s)*99/100]
}

// simPicker is a p2c picker over the simulated backends on the virtual clock.
func simPicker(clock *time.Duration) *picker {
	prm := testParams(func() int64 { return int64(*clock) })
	return &picker{eps: testEndpoints(prm, simBackends), params: prm.Load(), rand: rand.New(rand.NewPCG(3, 5)).Uint64}
}

func TestSimulationP2CBeatsRoundRobinWithOneSlowBackend(t *testing.T) {
	var clock time.Duration
	pk := simPicker(&clock)
	p2cLat, p2cServed := simulate(&clock, func() (int, func(balancer.DoneInfo)) {
		res, err := pk.Pick(balancer.PickInfo{Ctx: context.Background()})
		if err != nil {
			t.Fatalf("Pick: %v", err)
		}
		return res.SubConn.(*simSubConn).id, res.Done
	})
	next := 0
	rrLat, _ := simulate(&clock, func() (int, func(balancer.DoneInfo)) {
		next++
		return next % simBackends, nil
	})
	p2cP99, rrP99 := p99(p2cLat), p99(rrLat)
	t.Logf("p99: p2c %v, round robin %v (ratio %.3f); p2c requests per backend %v", p2cP99, rrP99, float64(p2cP99)/float64(rrP99), p2cServed)
	if float64(p2cP99) > 0.2*float64(rrP99) {
		t.Errorf("p2c p99 %v > 0.2 × round robin p99 %v", p2cP99, rrP99)
	}
}
