package outlier

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/serviceconfig"

	"github.com/grpckit/grpckit/balancer/internal/childpolicy"
)

// Defaults for the fields a configuration leaves out.
const (
	DefaultConsecutiveFailures    = 5
	DefaultFailureRateThreshold   = 0.5
	DefaultFailureRateMinRequests = 20
	DefaultInterval               = 10 * time.Second
	DefaultBaseEjectionTime       = 30 * time.Second
	DefaultMaxEjectionTime        = 300 * time.Second
	DefaultMaxEjectionPercent     = 50
)

// Lower bounds of the durations a configuration may set.
const (
	// MinInterval is the shortest interval: every interval the policy walks
	// all endpoints, and the failure-rate rule judges each on the calls of
	// one interval; more often than ten times a second costs CPU for
	// samples too small to judge.
	MinInterval = 100 * time.Millisecond
	// MinEjectionTime is the shortest baseEjectionTime: an endpoint let
	// back sooner has barely left its child's rotation, and each ejection
	// and return rebuilds the child's picker.
	MinEjectionTime = 100 * time.Millisecond
)

// defaultFailureCodes are the status codes that count as a failure of the
// endpoint when a configuration does not list its own: the ones a broken or
// overloaded server produces, not the ones that describe a bad request.
var defaultFailureCodes = []codes.Code{
	codes.Unknown, codes.DeadlineExceeded, codes.ResourceExhausted,
	codes.Internal, codes.Unavailable, codes.DataLoss,
}

// jsonConfig is the JSON form of the policy's configuration. Pointer fields
// tell a field left out (default) from a field set to zero (disabled).
type jsonConfig struct {
	ConsecutiveFailures    *uint32         `json:"consecutiveFailures"`
	FailureRateThreshold   *float64        `json:"failureRateThreshold"`
	FailureRateMinRequests *uint32         `json:"failureRateMinRequests"`
	Interval               *string         `json:"interval"`
	BaseEjectionTime       *string         `json:"baseEjectionTime"`
	MaxEjectionTime        *string         `json:"maxEjectionTime"`
	MaxEjectionPercent     *uint32         `json:"maxEjectionPercent"`
	FailureCodes           failureCodeList `json:"failureCodes"`
	ChildPolicy            json.RawMessage `json:"childPolicy"`
}

// failureCodeList decodes failureCodes, naming the field when a code is
// not one gRPC knows.
type failureCodeList []codes.Code

func (l *failureCodeList) UnmarshalJSON(b []byte) error {
	var cs []codes.Code
	if err := json.Unmarshal(b, &cs); err != nil {
		return fmt.Errorf("failureCodes: %v", err)
	}
	*l = cs
	return nil
}

// lbConfig is a parsed, validated configuration. It is immutable.
type lbConfig struct {
	serviceconfig.LoadBalancingConfig `json:"-"`

	consecutiveFailures uint32  // 0: rule off
	failureRate         float64 // 0: rule off
	minRequests         uint32
	interval            time.Duration
	baseEjection        time.Duration
	maxEjection         time.Duration
	maxEjectionPercent  uint32
	failureCodes        uint32 // bit c set: codes.Code(c) is a failure
	child               childpolicy.Policy
}

// parseConfig parses and validates the policy's JSON configuration.
func parseConfig(raw json.RawMessage) (*lbConfig, error) {
	var jc jsonConfig
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&jc); err != nil {
		return nil, fmt.Errorf("outlier: bad config: %v", err)
	}
	cfg, err := jc.toConfig()
	if err != nil {
		return nil, err
	}
	return cfg, cfg.validate()
}

// toConfig applies the defaults and parses durations and the child policy.
func (jc *jsonConfig) toConfig() (*lbConfig, error) {
	cfg := &lbConfig{
		consecutiveFailures: orDefault(jc.ConsecutiveFailures, DefaultConsecutiveFailures),
		failureRate:         orDefault(jc.FailureRateThreshold, DefaultFailureRateThreshold),
		minRequests:         orDefault(jc.FailureRateMinRequests, DefaultFailureRateMinRequests),
		maxEjectionPercent:  orDefault(jc.MaxEjectionPercent, DefaultMaxEjectionPercent),
		failureCodes:        codeMask(defaultFailureCodes),
	}
	if jc.FailureCodes != nil {
		cfg.failureCodes = codeMask(jc.FailureCodes)
	}
	var err error
	durations := []struct {
		name string
		in   *string
		def  time.Duration
		out  *time.Duration
	}{
		{"interval", jc.Interval, DefaultInterval, &cfg.interval},
		{"baseEjectionTime", jc.BaseEjectionTime, DefaultBaseEjectionTime, &cfg.baseEjection},
		{"maxEjectionTime", jc.MaxEjectionTime, DefaultMaxEjectionTime, &cfg.maxEjection},
	}
	for _, d := range durations {
		if *d.out, err = parseDuration(d.name, d.in, d.def); err != nil {
			return nil, err
		}
	}
	if cfg.child, err = childpolicy.Parse(jc.ChildPolicy); err != nil {
		return nil, fmt.Errorf("outlier: %w", err)
	}
	return cfg, nil
}

// validate reports the first configuration error.
func (c *lbConfig) validate() error {
	switch {
	case c.failureRate < 0 || c.failureRate > 1:
		return fmt.Errorf("outlier: failureRateThreshold %v is outside [0, 1]", c.failureRate)
	case c.interval < MinInterval:
		return fmt.Errorf("outlier: interval %v is under %v: a sweep of every endpoint that often costs CPU and judges failure rates on too few calls", c.interval, MinInterval)
	case c.baseEjection < MinEjectionTime:
		return fmt.Errorf("outlier: baseEjectionTime %v is under %v: an ejection that short barely takes the endpoint out of rotation", c.baseEjection, MinEjectionTime)
	case c.maxEjection < c.baseEjection:
		return fmt.Errorf("outlier: maxEjectionTime %v is shorter than baseEjectionTime %v", c.maxEjection, c.baseEjection)
	case c.maxEjectionPercent > 100:
		return fmt.Errorf("outlier: maxEjectionPercent %d is over 100", c.maxEjectionPercent)
	case c.failureCodes == 0:
		return errors.New("outlier: failureCodes is empty: no RPC would count as a failure; leave it out for the default")
	case c.failureCodes&(1<<codes.OK|1<<codes.Canceled) != 0:
		return errors.New("outlier: failureCodes may not list OK or CANCELLED")
	case c.child.Builder == nil:
		return errors.New("outlier: no childPolicy given and round_robin is not registered")
	}
	return nil
}

// isFailure reports whether an RPC that ended with code counts against its
// endpoint.
func (c *lbConfig) isFailure(code codes.Code) bool {
	return code < 32 && c.failureCodes&(1<<code) != 0
}

// ejectionTime is how long an endpoint ejected for the n-th time in a row
// stays out: baseEjectionTime × n, capped at maxEjectionTime.
func (c *lbConfig) ejectionTime(n int) time.Duration {
	if n > 0 && c.baseEjection <= (c.maxEjection-1)/time.Duration(n) { // base×n < max, without overflow
		return c.baseEjection * time.Duration(n)
	}
	return c.maxEjection
}

// maxEjected is how many of total endpoints may be ejected at once.
func (c *lbConfig) maxEjected(total int) int {
	return total * int(c.maxEjectionPercent) / 100
}

func orDefault[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func parseDuration(name string, s *string, def time.Duration) (time.Duration, error) {
	if s == nil {
		return def, nil
	}
	d, err := time.ParseDuration(*s)
	if err != nil {
		return 0, fmt.Errorf("outlier: %s: %v", name, err)
	}
	return d, nil
}

func codeMask(cs []codes.Code) uint32 {
	var m uint32
	for _, c := range cs {
		if c < 32 {
			m |= 1 << c
		}
	}
	return m
}
