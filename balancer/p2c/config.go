package p2c

import (
	"encoding/json"
	"fmt"
	"time"

	"google.golang.org/grpc/serviceconfig"

	"github.com/grpckit/grpckit/balancer/internal/shard"
)

// Defaults of Config.
const (
	DefaultDecayTime    = 10 * time.Second
	DefaultErrorPenalty = time.Second
)

// Bounds of Config's durations. Values outside them are refused by
// ParseConfig with the reason.
const (
	// MinDecayTime: an estimate that forgets within a few round trips is
	// only the last sample, and keys grow as t/decayTime, losing precision
	// with a shorter one.
	MinDecayTime = 100 * time.Millisecond
	// MaxDecayTime: with a longer one an endpoint that was slow once is
	// avoided for hours after it recovered.
	MaxDecayTime = time.Hour
	// MinErrorPenalty: a positive penalty shorter than this charges less than
	// a loopback round trip, so it is no penalty; 0 turns the penalty off.
	MinErrorPenalty = time.Millisecond
	// MinSlowStartWindow: the picker is rebuilt twenty times per window (at
	// most every 10ms), and a ramp shorter than a second warms no cache or
	// JIT; 0 turns slow start off.
	MinSlowStartWindow = time.Second
)

// Config is the policy's JSON configuration, for example
//
//	{"loadBalancingConfig":[{"grpckit_p2c":{"decayTime":"10s","errorPenalty":"1s","slowStartWindow":"30s"}}]}
type Config struct {
	serviceconfig.LoadBalancingConfig `json:"-"`

	// DecayTime is the time constant of the latency estimate: an endpoint's
	// estimate falls to 1/e of itself after DecayTime without a response, and
	// a response weighs more the longer the endpoint was silent before it.
	// Default 10s; from MinDecayTime to MaxDecayTime. A change in a live
	// configuration keeps every endpoint's current estimate, which decays
	// with the new time constant from then on.
	DecayTime shard.Duration `json:"decayTime,omitempty"`
	// ErrorPenalty is the latency a ResourceExhausted or Unavailable response
	// counts as, when it came back faster, so that a backend that fails fast
	// does not look fast. Default 1s; 0 turns the penalty off, else at least
	// MinErrorPenalty.
	ErrorPenalty shard.Duration `json:"errorPenalty,omitempty"`
	// SlowStartWindow, when positive, ramps an endpoint that becomes READY
	// from a tenth of its weight to all of it over the window; an endpoint
	// that leaves READY and comes back starts again. Default 0, off; else at
	// least MinSlowStartWindow.
	SlowStartWindow shard.Duration `json:"slowStartWindow,omitempty"`
}

func defaultConfig() *Config {
	return &Config{DecayTime: shard.Duration(DefaultDecayTime), ErrorPenalty: shard.Duration(DefaultErrorPenalty)}
}

// parseConfig reads a Config over the defaults; unknown fields are refused.
func parseConfig(js json.RawMessage) (*Config, error) {
	cfg := defaultConfig()
	if err := shard.DecodeStrict(js, cfg); err != nil {
		return nil, fmt.Errorf("p2c: invalid config %s: %v", js, err)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("p2c: invalid config %s: %v", js, err)
	}
	return cfg, nil
}

// validate reports the first duration outside its bounds.
func (c *Config) validate() error {
	d, e, w := time.Duration(c.DecayTime), time.Duration(c.ErrorPenalty), time.Duration(c.SlowStartWindow)
	switch {
	case d < MinDecayTime:
		return fmt.Errorf("decayTime %v is under %v: the estimate would be little more than the last sample", d, MinDecayTime)
	case d > MaxDecayTime:
		return fmt.Errorf("decayTime %v is over %v: an endpoint slow once would be avoided for hours", d, MaxDecayTime)
	case e != 0 && e < MinErrorPenalty:
		return fmt.Errorf("errorPenalty %v is under %v: that is no penalty (0 turns it off)", e, MinErrorPenalty)
	case w != 0 && w < MinSlowStartWindow:
		return fmt.Errorf("slowStartWindow %v is under %v: too short to warm anything (0 turns slow start off)", w, MinSlowStartWindow)
	}
	return nil
}
