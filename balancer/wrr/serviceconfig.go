package wrr

import (
	"fmt"
	"time"

	"github.com/grpckit/grpckit/balancer/internal/shard"
	"github.com/grpckit/grpckit/balancer/lbconfig"
)

// PolicyOption sets a field of the configuration Policy builds.
type PolicyOption func(*Config)

// WithSlowStartWindow sets slowStartWindow: an endpoint that becomes READY
// ramps from a tenth of its weight to all of it over d. 0 (the default)
// turns slow start off; else d is at least MinSlowStartWindow.
func WithSlowStartWindow(d time.Duration) PolicyOption {
	return func(c *Config) { c.SlowStartWindow = shard.Duration(d) }
}

// Policy returns the policy with opts applied over the defaults, validated
// by the policy's parser; the error names the field that is wrong. Pass
// Policy().DialOption() to grpc.NewClient, or the Policy to a parent policy
// as its child.
func Policy(opts ...PolicyOption) (lbconfig.Policy, error) {
	var c Config
	for _, o := range opts {
		o(&c)
	}
	if w := c.window(); w < 0 {
		return lbconfig.Policy{}, fmt.Errorf("wrr: slowStartWindow %v is negative", w)
	}
	return lbconfig.New(Name, &c)
}
