package p2c

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"

	"github.com/grpckit/grpckit/balancer/internal/shard"
)

// Name is the name the policy is registered under, for service configs.
const Name = "grpckit_p2c"

var logger = grpclog.Component("grpckit-p2c")

func init() { balancer.Register(builder{}) }

// builder builds the policy and parses its configuration.
type builder struct{}

func (builder) Name() string { return Name }

func (builder) Build(cc balancer.ClientConn, opts balancer.BuildOptions) balancer.Balancer {
	if logger.V(2) {
		logger.Infof("p2c: balancer created for %s", opts.Target.String())
	}
	return shard.New(cc, opts, "p2c", newPolicy(shard.Monotonic, rand.Uint64), shard.Monotonic, logger)
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
		p.setConfig(c)
	default:
		return fmt.Errorf("p2c: config of type %T, want *p2c.Config", cfg)
	}
	return nil
}

func (p *policy) setConfig(c *Config) {
	p.cfg = c
	p.params.Store(&params{
		tau:     float64(time.Duration(c.DecayTime)),
		penalty: float64(time.Duration(c.ErrorPenalty)),
		now:     p.now,
	})
}

// NewState starts a new endpoint at a neutral cost: the mean latency estimate
// of the READY endpoints, so it is neither flooded nor starved before its
// first response.
func (p *policy) NewState(_ resolver.Endpoint, now int64) *stats {
	tau := p.params.Load().tau
	var sum float64
	for _, e := range p.last {
		sum += e.stats.estimate(now, tau)
	}
	if len(p.last) == 0 {
		return newStats(&p.params, 0, now)
	}
	return newStats(&p.params, sum/float64(len(p.last)), now)
}

// Picker builds a picker over ready; while an endpoint ramps up it asks to be
// rebuilt every shard.RefreshInterval.
func (p *policy) Picker(ready []shard.Ready[*stats], now int64) (balancer.Picker, time.Duration) {
	window := time.Duration(p.cfg.SlowStartWindow)
	eps := make([]endpoint, len(ready))
	var refresh time.Duration
	for i, r := range ready {
		f := shard.Ramp(window, r.ReadySince, now, shard.MinRampFraction)
		eps[i] = endpoint{picker: r.Picker, stats: r.State, logInvWeight: -math.Log(float64(r.Weight) * f)}
		if shard.Ramping(window, r.ReadySince, now) {
			refresh = shard.RefreshInterval(window)
		}
	}
	p.last = eps
	return &picker{eps: eps, params: p.params.Load(), rand: p.rand}, refresh
}
