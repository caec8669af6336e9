package p2c

import (
	"fmt"
	"time"

	"github.com/grpckit/grpckit/balancer/internal/shard"
	"github.com/grpckit/grpckit/balancer/lbconfig"
)

// policyConfig is the JSON Policy builds: a field left nil is left out, and
// takes its default.
type policyConfig struct {
	DecayTime       *shard.Duration `json:"decayTime,omitempty"`
	ErrorPenalty    *shard.Duration `json:"errorPenalty,omitempty"`
	SlowStartWindow *shard.Duration `json:"slowStartWindow,omitempty"`
}

// PolicyOption sets a field of the configuration Policy builds.
type PolicyOption func(*policyConfig)

// WithDecayTime sets decayTime, the time constant of the latency estimate
// (default DefaultDecayTime, from MinDecayTime to MaxDecayTime).
func WithDecayTime(d time.Duration) PolicyOption {
	return func(c *policyConfig) { c.DecayTime = durationOf(d) }
}

// WithErrorPenalty sets errorPenalty, the latency a ResourceExhausted or
// Unavailable answer counts as at least (default DefaultErrorPenalty). 0
// turns the penalty off; else d is at least MinErrorPenalty.
func WithErrorPenalty(d time.Duration) PolicyOption {
	return func(c *policyConfig) { c.ErrorPenalty = durationOf(d) }
}

// WithSlowStartWindow sets slowStartWindow: an endpoint that becomes READY
// ramps from a tenth of its weight to all of it over d. 0 (the default)
// turns slow start off; else d is at least MinSlowStartWindow.
func WithSlowStartWindow(d time.Duration) PolicyOption {
	return func(c *policyConfig) { c.SlowStartWindow = durationOf(d) }
}

func durationOf(d time.Duration) *shard.Duration {
	sd := shard.Duration(d)
	return &sd
}

// Policy returns the policy with opts applied over the defaults, validated
// by the policy's parser; the error names the field that is wrong. Pass
// Policy().DialOption() to grpc.NewClient, or the Policy to a parent policy
// as its child.
func Policy(opts ...PolicyOption) (lbconfig.Policy, error) {
	var c policyConfig
	for _, o := range opts {
		o(&c)
	}
	for _, f := range []struct {
		name string
		d    *shard.Duration
	}{{"decayTime", c.DecayTime}, {"errorPenalty", c.ErrorPenalty}, {"slowStartWindow", c.SlowStartWindow}} {
		if f.d != nil && *f.d < 0 {
			return lbconfig.Policy{}, fmt.Errorf("p2c: %s %v is negative", f.name, time.Duration(*f.d))
		}
	}
	return lbconfig.New(Name, &c)
}
