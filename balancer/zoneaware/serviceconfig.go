package zoneaware

import (
	"errors"
	"fmt"
	"math"

	"github.com/grpckit/grpckit/balancer/lbconfig"
)

// policyConfig is the JSON Policy builds; a field left out takes its
// default.
type policyConfig struct {
	LocalZone      string            `json:"localZone,omitempty"`
	PanicThreshold *float64          `json:"panicThreshold,omitempty"`
	MinClusterSize int               `json:"minClusterSize,omitempty"`
	ChildPolicy    []lbconfig.Policy `json:"childPolicy"`
}

// PolicyOption sets a field of the configuration Policy builds.
type PolicyOption func(*policyConfig)

// WithLocalZone sets localZone, the zone of this client. Without it the
// zone comes from SetLocalZone, then the GRPCKIT_LOCAL_ZONE environment
// variable, when the configuration is applied.
func WithLocalZone(zone string) PolicyOption {
	return func(c *policyConfig) { c.LocalZone = zone }
}

// WithPanicThreshold sets panicThreshold, in [0, 1]: under this share of
// READY endpoint weight, zones are ignored (default DefaultPanicThreshold;
// 0 never ignores them).
func WithPanicThreshold(f float64) PolicyOption {
	return func(c *policyConfig) { c.PanicThreshold = &f }
}

// WithMinClusterSize sets minClusterSize: with fewer endpoints than n, zones
// are ignored (default 0).
func WithMinClusterSize(n int) PolicyOption {
	return func(c *policyConfig) { c.MinClusterSize = n }
}

// Policy returns the policy with child balancing inside each zone and opts
// applied over the defaults, validated by the policy's parser; the error
// names the field that is wrong. child is any Policy but a zone-aware one:
// lbconfig.RoundRobin(), wrr.Policy(), p2c.Policy(), outlier.Policy(...).
// Pass Policy(...).DialOption() to grpc.NewClient.
func Policy(child lbconfig.Policy, opts ...PolicyOption) (lbconfig.Policy, error) {
	if child.IsZero() {
		return lbconfig.Policy{}, errors.New("zoneaware: childPolicy is the zero lbconfig.Policy; pass lbconfig.RoundRobin() or a policy package's Policy()")
	}
	c := policyConfig{ChildPolicy: []lbconfig.Policy{child}}
	for _, o := range opts {
		o(&c)
	}
	if p := c.PanicThreshold; p != nil && (math.IsNaN(*p) || math.IsInf(*p, 0)) {
		return lbconfig.Policy{}, fmt.Errorf("zoneaware: panicThreshold %v is outside [0, 1]", *p)
	}
	return lbconfig.New(Name, &c)
}
