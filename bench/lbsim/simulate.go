package lbsim

import (
	"container/heap"
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc/balancer"

	"github.com/grpckit/grpckit/bench/internal/fakecc"
)

// method is the full method name the simulated requests are picked for.
const method = "/greeter.v1.Greeter/SayHello"

// completion is a response due at a time into the run.
type completion struct {
	at   time.Duration
	done func(balancer.DoneInfo)
}

// completions is a min-heap of completions by due time.
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

// Simulate runs scenario s through policy p's picker on virtual time and
// returns the requests' latencies and how many each backend served. It
// sleeps for the scenario's whole duration, so it belongs inside a
// testing/synctest bubble, where sleeping only moves the fake clock.
func Simulate(s Scenario, p Policy) (Result, error) {
	pk, closeBalancer, err := fakecc.ReadyPicker(p.Name, p.Config, fakecc.Endpoints(s.Backends))
	if err != nil {
		return Result{}, err
	}
	defer closeBalancer()
	sim := &simulation{s: s, p: p, pk: pk, start: time.Now(),
		lat: rand.New(rand.NewPCG(s.Seed, 11)), keys: rand.New(rand.NewPCG(s.Seed, 13))}
	r := Result{Policy: p.Label, Mode: "simulation", Requests: s.Requests(), Served: make([]int, s.Backends)}
	lat := make([]time.Duration, 0, r.Requests)
	for i := range r.Requests {
		t := time.Duration(i) * s.Interval
		sim.completeUntil(t)
		b, d, err := sim.send(t)
		if err != nil {
			r.Errors++
			continue
		}
		r.Served[b]++
		lat = append(lat, d)
	}
	sim.completeUntil(s.Duration + time.Hour)
	r.summarize(lat)
	return r, nil
}

// simulation is the state of one Simulate run.
type simulation struct {
	s       Scenario
	p       Policy
	pk      balancer.Picker
	start   time.Time
	lat     *rand.Rand
	keys    *rand.Rand
	pending completions
}

// sleepUntil moves the (virtual) clock to at into the run.
func (sim *simulation) sleepUntil(at time.Duration) {
	if d := at - time.Since(sim.start); d > 0 {
		time.Sleep(d)
	}
}

// completeUntil delivers every response due by t, each at its time.
func (sim *simulation) completeUntil(t time.Duration) {
	for len(sim.pending) > 0 && sim.pending[0].at <= t {
		c := heap.Pop(&sim.pending).(completion)
		sim.sleepUntil(c.at)
		if c.done != nil {
			c.done(balancer.DoneInfo{BytesSent: true, BytesReceived: true})
		}
	}
}

// send picks a backend for the request sent at t and schedules its response;
// it returns the backend and the request's latency.
func (sim *simulation) send(t time.Duration) (int, time.Duration, error) {
	sim.sleepUntil(t)
	b, res, err := fakecc.PickIndex(sim.pk, balancer.PickInfo{FullMethodName: method, Ctx: withKey(context.Background(), drawKey(sim.p, sim.keys))})
	u := sim.lat.Float64() // drawn even on error, so every policy sees the same sequence
	if err != nil {
		return 0, 0, fmt.Errorf("lbsim: %s: %v", sim.p.Label, err)
	}
	d := sim.s.Latency(b, t, u)
	heap.Push(&sim.pending, completion{at: t + d, done: res.Done})
	return b, d, nil
}
