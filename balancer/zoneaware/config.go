package zoneaware

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"google.golang.org/grpc/serviceconfig"

	"github.com/grpckit/grpckit/balancer/internal/childpolicy"
)

// EnvLocalZone is the environment variable that names the process's zone
// when neither the configuration nor SetLocalZone does.
const EnvLocalZone = "GRPCKIT_LOCAL_ZONE"

// DefaultPanicThreshold is the share of READY endpoint weight under which the
// policy stops preferring a zone.
const DefaultPanicThreshold = 0.5

var processZone atomic.Pointer[string]

// SetLocalZone sets the zone of this process for every channel using the
// policy whose configuration names no localZone. It takes precedence over
// the GRPCKIT_LOCAL_ZONE environment variable; "" undoes it. Channels read
// it when their configuration is applied.
func SetLocalZone(zone string) {
	if zone == "" {
		processZone.Store(nil)
		return
	}
	processZone.Store(&zone)
}

// localZone returns the zone a configuration that names none uses.
func localZone() string {
	if z := processZone.Load(); z != nil {
		return *z
	}
	return os.Getenv(EnvLocalZone)
}

type jsonConfig struct {
	LocalZone      string          `json:"localZone"`
	PanicThreshold *float64        `json:"panicThreshold"`
	MinClusterSize uint32          `json:"minClusterSize"`
	ChildPolicy    json.RawMessage `json:"childPolicy"`
}

// lbConfig is a parsed, validated configuration. It is immutable.
type lbConfig struct {
	serviceconfig.LoadBalancingConfig `json:"-"`

	localZone      string // "": SetLocalZone, then GRPCKIT_LOCAL_ZONE
	panicThreshold float64
	minClusterSize int
	child          childpolicy.Policy
}

// parseConfig parses and validates the policy's JSON configuration.
func parseConfig(raw json.RawMessage) (*lbConfig, error) {
	var jc jsonConfig
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&jc); err != nil {
		return nil, fmt.Errorf("zoneaware: bad config: %v", err)
	}
	cfg := &lbConfig{
		localZone:      jc.LocalZone,
		panicThreshold: DefaultPanicThreshold,
		minClusterSize: int(jc.MinClusterSize),
	}
	if jc.PanicThreshold != nil {
		cfg.panicThreshold = *jc.PanicThreshold
	}
	var err error
	if cfg.child, err = childpolicy.Parse(jc.ChildPolicy); err != nil {
		return nil, fmt.Errorf("zoneaware: %w", err)
	}
	return cfg, cfg.validate()
}

func (c *lbConfig) validate() error {
	switch {
	case c.panicThreshold < 0 || c.panicThreshold > 1:
		return fmt.Errorf("zoneaware: panicThreshold %v is outside [0, 1]", c.panicThreshold)
	case c.child.Builder == nil:
		return errors.New("zoneaware: no childPolicy given and round_robin is not registered")
	case c.child.Builder.Name() == Name:
		return fmt.Errorf("zoneaware: childPolicy %s: a zone's child sees that zone's endpoints only, so a nested zone-aware policy never prefers a zone", Name)
	}
	return nil
}

// zone returns the local zone the configuration stands for.
func (c *lbConfig) zone() string {
	if c.localZone != "" {
		return c.localZone
	}
	return localZone()
}
