package lbsim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	_ "google.golang.org/grpc/balancer/roundrobin" // the anchor policy

	"github.com/grpckit/grpckit/balancer/consistenthash"
	"github.com/grpckit/grpckit/balancer/p2c"
	"github.com/grpckit/grpckit/balancer/wrr"
)

// Scenario describes a slow-node run.
type Scenario struct {
	Backends   int           // backends, all of weight 1
	Slow       int           // index of the backend that turns slow
	SlowFactor float64       // how many times slower it answers
	Duration   time.Duration // length of the run; the slow phase is its middle third
	Interval   time.Duration // time between two arrivals
	Seed       uint64        // seeds latencies and keys
}

// Default is the scenario of the performance targets: 11 backends, one of
// them 10× slow, a request every millisecond for two minutes.
var Default = Scenario{Backends: 11, Slow: 5, SlowFactor: 10, Duration: 2 * time.Minute, Interval: time.Millisecond, Seed: 7}

// Requests returns how many requests the run sends.
func (s Scenario) Requests() int { return int(s.Duration / s.Interval) }

// slowAt reports whether backend i is slow for a request sent at t into the run.
func (s Scenario) slowAt(i int, t time.Duration) bool {
	return i == s.Slow && t >= s.Duration/3 && t < 2*s.Duration/3
}

// Latency returns how long backend i takes for a request sent at t, with u
// uniform in [0, 1): 10 ms × (0.5 + u), times SlowFactor when slow.
func (s Scenario) Latency(i int, t time.Duration, u float64) time.Duration {
	d := time.Duration(float64(10*time.Millisecond) * (0.5 + u))
	if s.slowAt(i, t) {
		d = time.Duration(float64(d) * s.SlowFactor)
	}
	return d
}

// Policy is a load-balancing policy under test.
type Policy struct {
	Label  string // short name in the report
	Name   string // registered name
	Config string // JSON configuration
	Keyed  bool   // requests carry a hash key
}

// Policies are the policies the report compares: grpc-go's round_robin (the
// anchor), and grpckit's wrr, p2c and consistent hash.
var Policies = []Policy{
	{Label: "round_robin", Name: "round_robin"},
	{Label: "wrr", Name: wrr.Name},
	{Label: "p2c", Name: p2c.Name},
	{Label: "consistent_hash", Name: consistenthash.Name, Keyed: true},
}

// drawKey returns a request's hash key drawn from rng, or "" when p is not
// keyed.
func drawKey(p Policy, rng *rand.Rand) string {
	if !p.Keyed {
		return ""
	}
	return fmt.Sprintf("user-%d", rng.Uint32())
}

// withKey returns ctx carrying key as its hash key; ctx itself when key is "".
func withKey(ctx context.Context, key string) context.Context {
	if key == "" {
		return ctx
	}
	return consistenthash.WithKey(ctx, key)
}

// Result is one policy's run.
type Result struct {
	Policy   string
	Mode     string // "simulation" or "loopback"
	Requests int
	Errors   int
	// Served counts the requests each backend answered.
	Served []int
	// P50, P99 and P999 are latency percentiles in milliseconds.
	P50, P99, P999 float64
	// Quantiles are the latency quantiles in milliseconds at 0, 0.001, …, 1,
	// for the CDF plots.
	Quantiles []float64
}

// quantileSteps is how many steps Result.Quantiles has between 0 and 1.
const quantileSteps = 1000

// summarize fills the latency fields of r from lat.
func (r *Result) summarize(lat []time.Duration) {
	s := slices.Clone(lat)
	slices.Sort(s)
	r.P50, r.P99, r.P999 = ms(quantile(s, 0.5)), ms(quantile(s, 0.99)), ms(quantile(s, 0.999))
	r.Quantiles = make([]float64, quantileSteps+1)
	for i := range r.Quantiles {
		r.Quantiles[i] = ms(quantile(s, float64(i)/quantileSteps))
	}
}

// quantile returns the q-quantile of sorted (nearest rank), 0 when empty.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)))
	return sorted[min(i, len(sorted)-1)]
}

// ms converts d to milliseconds, rounded to the microsecond.
func ms(d time.Duration) float64 {
	return float64(d.Round(time.Microsecond)) / float64(time.Millisecond)
}

// SlowShare returns the share of the requests the slow backend served.
func (r Result) SlowShare(s Scenario) float64 {
	total := 0
	for _, n := range r.Served {
		total += n
	}
	if total == 0 || s.Slow >= len(r.Served) {
		return 0
	}
	return float64(r.Served[s.Slow]) / float64(total)
}
