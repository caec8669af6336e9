package consistenthash

import (
	"fmt"
	"math"

	"github.com/grpckit/grpckit/balancer/lbconfig"
)

// policyConfig is the JSON Policy builds; zero fields are left out and take
// their defaults.
type policyConfig struct {
	HashHeader string  `json:"hashHeader,omitempty"`
	RingSize   int     `json:"ringSize,omitempty"`
	LoadFactor float64 `json:"loadFactor,omitempty"`
	MissingKey string  `json:"missingKey,omitempty"`
}

// PolicyOption sets a field of the configuration Policy builds.
type PolicyOption func(*policyConfig)

// WithHashHeader sets hashHeader, the metadata header whose values are a
// request's key when the call has none from WithKey. The default, "", keys
// requests by WithKey only.
func WithHashHeader(header string) PolicyOption {
	return func(c *policyConfig) { c.HashHeader = header }
}

// WithRingSize sets ringSize, the number of table slots: a power of two from
// MinRingSize to MaxRingSize (default DefaultRingSize). See LBConfig for what
// it trades.
func WithRingSize(n int) PolicyOption {
	return func(c *policyConfig) { c.RingSize = n }
}

// WithLoadFactor sets loadFactor: with f ≥ 1, no endpoint takes more than f
// times its weighted share of the requests in flight. 0 (the default) turns
// bounded loads off.
func WithLoadFactor(f float64) PolicyOption {
	return func(c *policyConfig) { c.LoadFactor = f }
}

// WithMissingKey sets missingKey, what becomes of a request without a key:
// MissingKeyRandom (the default) or MissingKeyFail.
func WithMissingKey(mode string) PolicyOption {
	return func(c *policyConfig) { c.MissingKey = mode }
}

// Policy returns the policy with opts applied over the defaults, validated
// by the policy's parser; the error names the field that is wrong. Pass
// Policy().DialOption() to grpc.NewClient, or the Policy to a parent policy
// as its child. Requests need a key: WithKey, or a header named by
// WithHashHeader.
func Policy(opts ...PolicyOption) (lbconfig.Policy, error) {
	var c policyConfig
	for _, o := range opts {
		o(&c)
	}
	if lf := c.LoadFactor; math.IsNaN(lf) || math.IsInf(lf, 0) {
		return lbconfig.Policy{}, fmt.Errorf("consistenthash: loadFactor %v must be 0 (unbounded) or in [1, 1000]", lf)
	}
	return lbconfig.New(Name, &c)
}
