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

// Config is the policy's JSON configuration, for example
//
//	{"loadBalancingConfig":[{"grpckit_p2c":{"decayTime":"10s","errorPenalty":"1s","slowStartWindow":"30s"}}]}
type Config struct {
	serviceconfig.LoadBalancingConfig `json:"-"`

	// DecayTime is the time constant of the latency estimate: an endpoint's
	// estimate falls to 1/e of itself after DecayTime without a response, and
	// a response weighs more the longer the endpoint was silent before it.
	// Default 10s.
	DecayTime shard.Duration `json:"decayTime,omitempty"`
	// ErrorPenalty is the latency a ResourceExhausted or Unavailable response
	// counts as, when it came back faster, so that a backend that fails fast
	// does not look fast. Default 1s.
	ErrorPenalty shard.Duration `json:"errorPenalty,omitempty"`
	// SlowStartWindow, when positive, ramps an endpoint that becomes READY
	// from a tenth of its weight to all of it over the window; an endpoint
	// that leaves READY and comes back starts again. Default 0, off.
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
	if cfg.DecayTime == 0 {
		return nil, fmt.Errorf("p2c: invalid config %s: decayTime must be positive", js)
	}
	return cfg, nil
}
