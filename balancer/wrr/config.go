package wrr

import (
	"encoding/json"
	"fmt"
	"time"

	"google.golang.org/grpc/serviceconfig"

	"github.com/grpckit/grpckit/balancer/internal/shard"
)

// Config is the policy's JSON configuration, for example
//
//	{"loadBalancingConfig":[{"grpckit_weighted_round_robin":{"slowStartWindow":"30s"}}]}
type Config struct {
	serviceconfig.LoadBalancingConfig `json:"-"`

	// SlowStartWindow, when positive, ramps an endpoint that becomes READY
	// from a tenth of its weight to all of it over the window; an endpoint
	// that leaves READY and comes back starts again. Zero (the default)
	// turns slow start off; else it must be at least MinSlowStartWindow.
	SlowStartWindow shard.Duration `json:"slowStartWindow,omitempty"`
}

// MinSlowStartWindow is the shortest slow-start window ParseConfig accepts:
// the picker is rebuilt twenty times per window (at most every 10ms), and a
// ramp shorter than a second warms no cache or JIT.
const MinSlowStartWindow = time.Second

// window returns the slow-start window.
func (c *Config) window() time.Duration { return time.Duration(c.SlowStartWindow) }

// parseConfig reads a Config; unknown fields are refused so that a typo does
// not silently turn a feature off.
func parseConfig(js json.RawMessage) (*Config, error) {
	cfg := &Config{}
	if err := shard.DecodeStrict(js, cfg); err != nil {
		return nil, fmt.Errorf("wrr: invalid config %s: %v", js, err)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("wrr: invalid config %s: %v", js, err)
	}
	return cfg, nil
}

// validate reports a duration outside its bounds.
func (c *Config) validate() error {
	if w := c.window(); w != 0 && w < MinSlowStartWindow {
		return fmt.Errorf("slowStartWindow %v is under %v: too short to warm anything (0 turns slow start off)", w, MinSlowStartWindow)
	}
	return nil
}
