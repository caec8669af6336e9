package outlier

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/grpckit/grpckit/balancer/lbconfig"
)

// policyConfig is the JSON Policy builds; a field left nil is left out and
// takes its default.
type policyConfig struct {
	ConsecutiveFailures    *int              `json:"consecutiveFailures,omitempty"`
	FailureRateThreshold   *float64          `json:"failureRateThreshold,omitempty"`
	FailureRateMinRequests *int              `json:"failureRateMinRequests,omitempty"`
	Interval               *string           `json:"interval,omitempty"`
	BaseEjectionTime       *string           `json:"baseEjectionTime,omitempty"`
	MaxEjectionTime        *string           `json:"maxEjectionTime,omitempty"`
	MaxEjectionPercent     *int              `json:"maxEjectionPercent,omitempty"`
	FailureCodes           []codeName        `json:"failureCodes,omitempty"`
	ChildPolicy            []lbconfig.Policy `json:"childPolicy"`
}

// PolicyOption sets a field of the configuration Policy builds.
type PolicyOption func(*policyConfig)

// WithConsecutiveFailures sets consecutiveFailures: eject an endpoint after
// n failed RPCs in a row (default DefaultConsecutiveFailures; 0 turns the
// rule off).
func WithConsecutiveFailures(n int) PolicyOption {
	return func(c *policyConfig) { c.ConsecutiveFailures = &n }
}

// WithFailureRateThreshold sets failureRateThreshold, in [0, 1]: at the end
// of an interval, eject an endpoint whose share of failed RPCs in it was
// over f (default DefaultFailureRateThreshold; 0 turns the rule off).
func WithFailureRateThreshold(f float64) PolicyOption {
	return func(c *policyConfig) { c.FailureRateThreshold = &f }
}

// WithFailureRateMinRequests sets failureRateMinRequests: the failure-rate
// rule judges only endpoints that served at least n RPCs in the interval
// (default DefaultFailureRateMinRequests).
func WithFailureRateMinRequests(n int) PolicyOption {
	return func(c *policyConfig) { c.FailureRateMinRequests = &n }
}

// WithInterval sets interval, the counting window of the failure-rate rule
// (default DefaultInterval, at least MinInterval).
func WithInterval(d time.Duration) PolicyOption {
	return func(c *policyConfig) { c.Interval = durationString(d) }
}

// WithBaseEjectionTime sets baseEjectionTime: the n-th ejection in a row
// lasts d × n (default DefaultBaseEjectionTime, at least MinEjectionTime).
func WithBaseEjectionTime(d time.Duration) PolicyOption {
	return func(c *policyConfig) { c.BaseEjectionTime = durationString(d) }
}

// WithMaxEjectionTime sets maxEjectionTime, the longest an ejection lasts
// (default DefaultMaxEjectionTime, at least baseEjectionTime).
func WithMaxEjectionTime(d time.Duration) PolicyOption {
	return func(c *policyConfig) { c.MaxEjectionTime = durationString(d) }
}

// WithMaxEjectionPercent sets maxEjectionPercent, in [0, 100]: never more
// than this share of the endpoints is ejected at once (default
// DefaultMaxEjectionPercent).
func WithMaxEjectionPercent(p int) PolicyOption {
	return func(c *policyConfig) { c.MaxEjectionPercent = &p }
}

// WithFailureCodes sets failureCodes, the status codes that count as a
// failure of the endpoint, in place of the default list (see the package
// doc). The list may not be empty, nor hold OK or Canceled.
func WithFailureCodes(cs ...codes.Code) PolicyOption {
	return func(c *policyConfig) {
		c.FailureCodes = make([]codeName, len(cs))
		for i, code := range cs {
			c.FailureCodes[i] = codeName(code)
		}
	}
}

func durationString(d time.Duration) *string {
	s := d.String()
	return &s
}

// Policy returns the policy with child behind it and opts applied over the
// defaults, validated by the policy's parser; the error names the field that
// is wrong. child is any Policy: lbconfig.RoundRobin(), wrr.Policy(),
// p2c.Policy(), zoneaware.Policy(...). Pass Policy(...).DialOption() to
// grpc.NewClient.
func Policy(child lbconfig.Policy, opts ...PolicyOption) (lbconfig.Policy, error) {
	if child.IsZero() {
		return lbconfig.Policy{}, errors.New("outlier: childPolicy is the zero lbconfig.Policy; pass lbconfig.RoundRobin() or a policy package's Policy()")
	}
	c := policyConfig{ChildPolicy: []lbconfig.Policy{child}}
	for _, o := range opts {
		o(&c)
	}
	if t := c.FailureRateThreshold; t != nil && (math.IsNaN(*t) || math.IsInf(*t, 0)) {
		return lbconfig.Policy{}, fmt.Errorf("outlier: failureRateThreshold %v is outside [0, 1]", *t)
	}
	if c.FailureCodes != nil && len(c.FailureCodes) == 0 {
		return lbconfig.Policy{}, errors.New("outlier: failureCodes is empty: no RPC would count as a failure; leave it out for the default")
	}
	for _, code := range c.FailureCodes {
		if int(code) >= len(codeNames) {
			return lbconfig.Policy{}, fmt.Errorf("outlier: failureCodes: %d is not a gRPC status code", uint32(code))
		}
	}
	return lbconfig.New(Name, &c)
}

// codeName is a status code that marshals to the name the configuration
// takes, such as "UNAVAILABLE".
type codeName codes.Code

// codeNames are the names of codes 0 to 16, as codes.Code reads them from
// JSON.
var codeNames = [...]string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
	"INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
}

// MarshalJSON writes the code's name.
func (c codeName) MarshalJSON() ([]byte, error) {
	if int(c) >= len(codeNames) {
		return nil, fmt.Errorf("%d is not a gRPC status code", uint32(c))
	}
	return json.Marshal(codeNames[c])
}
