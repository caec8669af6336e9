package p2c

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"
	"weak"

	"google.golang.org/grpc/balancer"
	estats "google.golang.org/grpc/experimental/stats"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"

	"github.com/grpckit/grpckit/balancer/internal/lbmetrics"
	"github.com/grpckit/grpckit/balancer/internal/shard"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// Name is the name the policy is registered under, for service configs.
const Name = "grpckit_p2c"

var logger = grpclog.Component("grpckit-p2c")

func init() { balancer.Register(builder{}) }

// builder builds the policy and parses its configuration.
type builder struct{}

func (builder) Name() string { return Name }

func (builder) Build(cc balancer.ClientConn, opts balancer.BuildOptions) balancer.Balancer {
	target := opts.Target.String()
	if logger.V(2) {
		logger.Infof("p2c: balancer created for %s", target)
	}
	mcc := lbmetrics.NewConn[*picker](cc)
	b := shard.New(mcc, opts, "p2c", newPolicy(shard.Monotonic, rand.Uint64), shard.Monotonic, logger)
	return lbmetrics.Wrap(b, cc, func(r estats.AsyncMetricsRecorder) { report(r, mcc, target) },
		endpointCostMetric, endpointInFlightMetric, readyEndpointsMetric)
}

func (builder) ParseConfig(js json.RawMessage) (serviceconfig.LoadBalancingConfig, error) {
	return parseConfig(js)
}

// policy is the p2c shard.Policy: per-endpoint stats, and the pickers over them.
type policy struct {
	cfg    *Config
	now    shard.Clock
	rand   func() uint64
	params atomic.Pointer[params] // shared with every stats
	taus   tauTable               // the tau of each key tag
	live   []weak.Pointer[stats]  // every stats handed out and not collected
	pruned int                    // len(live) after the last prune
	last   []endpoint             // the newest picker's endpoints, to seed new endpoints
}

func newPolicy(now shard.Clock, rnd func() uint64) *policy {
	p := &policy{now: now, rand: rnd}
	p.setConfig(defaultConfig())
	return p
}

// SetConfig takes the configuration of a resolver update.
func (p *policy) SetConfig(cfg serviceconfig.LoadBalancingConfig) error {
	switch c := cfg.(type) {
	case nil:
		p.setConfig(defaultConfig())
	case *Config:
		if c == nil {
			c = defaultConfig()
		}
		if err := c.validate(); err != nil {
			return fmt.Errorf("p2c: invalid config: %v", err)
		}
		p.setConfig(c)
	default:
		return fmt.Errorf("p2c: config of type %T, want *p2c.Config", cfg)
	}
	return nil
}

// setConfig publishes params for c. When the decay time changes, keys get a
// new tag and every live stats is rescaled to the new decay time, keeping its
// current estimate.
func (p *policy) setConfig(c *Config) {
	p.cfg = c
	old := p.params.Load()
	next := &params{
		tau:     float64(time.Duration(c.DecayTime)),
		penalty: float64(time.Duration(c.ErrorPenalty)),
		now:     p.now,
		taus:    &p.taus,
	}
	if old != nil {
		next.tag = old.tag
		if next.tau != old.tau {
			next.tag = (old.tag + 1) % tagCount
		}
	}
	p.taus[next.tag].Store(math.Float64bits(next.tau))
	p.params.Store(next)
	if old == nil || next.tag == old.tag {
		return
	}
	now := p.now()
	for _, w := range p.live {
		if s := w.Value(); s != nil {
			s.rescale(next, now)
		}
	}
}

// track remembers s for rescaling, forgetting collected stats from time to
// time so that the list stays proportional to the live endpoints.
func (p *policy) track(s *stats) {
	if len(p.live) >= 2*p.pruned+16 {
		p.live = slices.DeleteFunc(p.live, func(w weak.Pointer[stats]) bool { return w.Value() == nil })
		p.pruned = len(p.live)
	}
	p.live = append(p.live, weak.Make(s))
}

// NewState starts a new endpoint at a neutral cost: the mean latency estimate
// of the READY endpoints, so it is neither flooded nor starved before its
// first response.
func (p *policy) NewState(_ resolver.Endpoint, now int64) *stats {
	var sum float64
	for _, e := range p.last {
		sum += e.stats.estimate(now)
	}
	est := 0.0
	if len(p.last) > 0 {
		est = sum / float64(len(p.last))
	}
	s := newStats(&p.params, est, now)
	p.track(s)
	return s
}

// Picker builds a picker over ready; while an endpoint ramps up it asks to be
// rebuilt every shard.RefreshInterval.
func (p *policy) Picker(ready []shard.Ready[*stats], now int64) (balancer.Picker, time.Duration) {
	window := time.Duration(p.cfg.SlowStartWindow)
	eps := make([]endpoint, len(ready))
	addrs := make([]string, len(ready))
	var refresh time.Duration
	for i, r := range ready {
		addrs[i] = r.Addr
		f := shard.Ramp(window, r.ReadySince, now, shard.MinRampFraction)
		w := min(r.Weight, kitresolver.MaxWeight) // whatever the endpoint claims
		eps[i] = endpoint{picker: r.Picker, stats: r.State, logInvWeight: -math.Log(float64(w) * f)}
		if shard.Ramping(window, r.ReadySince, now) {
			refresh = shard.RefreshInterval(window)
		}
	}
	p.last = eps
	return &picker{eps: eps, params: p.params.Load(), rand: p.rand, addrs: addrs}, refresh
}
