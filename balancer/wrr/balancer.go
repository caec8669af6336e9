package wrr

import (
	"encoding/json"
	"fmt"

	"google.golang.org/grpc/balancer"
	estats "google.golang.org/grpc/experimental/stats"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"

	"github.com/grpckit/grpckit/balancer/internal/lbmetrics"
	"github.com/grpckit/grpckit/balancer/internal/shard"
)

// Name is the name the policy is registered under, for service configs.
const Name = "grpckit_weighted_round_robin"

var logger = grpclog.Component("grpckit-wrr")

func init() { balancer.Register(builder{}) }

// builder builds the policy and parses its configuration.
type builder struct{}

func (builder) Name() string { return Name }

func (builder) Build(cc balancer.ClientConn, opts balancer.BuildOptions) balancer.Balancer {
	mcc := lbmetrics.NewConn[*picker](cc)
	b := shard.New(mcc, opts, "wrr", &policy{cfg: &Config{}}, shard.Monotonic, logger)
	target := opts.Target.String()
	if logger.V(2) {
		logger.Infof("wrr: balancer created for %s", target)
	}
	return lbmetrics.Wrap(b, cc, func(r estats.AsyncMetricsRecorder) { report(r, mcc, target) },
		endpointWeightMetric, readyEndpointsMetric)
}

func (builder) ParseConfig(js json.RawMessage) (serviceconfig.LoadBalancingConfig, error) {
	return parseConfig(js)
}

// SetConfig takes the configuration of a resolver update.
func (p *policy) SetConfig(cfg serviceconfig.LoadBalancingConfig) error {
	switch c := cfg.(type) {
	case nil:
		p.cfg = &Config{}
	case *Config:
		if c == nil {
			c = &Config{}
		}
		if err := c.validate(); err != nil {
			return fmt.Errorf("wrr: invalid config: %v", err)
		}
		p.cfg = c
	default:
		return fmt.Errorf("wrr: config of type %T, want *wrr.Config", cfg)
	}
	return nil
}

// NewState returns the (empty) state of a new endpoint.
func (p *policy) NewState(resolver.Endpoint, int64) struct{} { return struct{}{} }
