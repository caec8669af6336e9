package consistenthash

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"strings"

	"google.golang.org/grpc/serviceconfig"
)

// Limits and defaults of the table size (ringSize).
const (
	DefaultRingSize = 1 << 19
	MinRingSize     = 1 << 10
	MaxRingSize     = 1 << 24
)

// How a request without a key is handled.
const (
	// MissingKeyRandom sends a request without a key to a random READY
	// endpoint (the default).
	MissingKeyRandom = "random"
	// MissingKeyFail fails a request without a key with InvalidArgument.
	MissingKeyFail = "fail"
)

// LBConfig is the policy's configuration, parsed from the service config:
//
//	{"loadBalancingConfig":[{"grpckit_consistent_hash":{
//	    "hashHeader":"x-user-id",  // metadata header that carries the key; "" for WithKey only
//	    "ringSize":524288,         // table slots, a power of two in [1024, 16777216]; 0 for the default
//	    "loadFactor":1.25,         // bounded loads: 0 (off) or >= 1
//	    "missingKey":"random"      // "random" (default) or "fail"
//	}}]}
//
// A key set with WithKey wins over the header. ringSize trades memory (1 byte
// a slot up to 256 endpoints, 2 beyond) and build time (about 15 draws a
// slot) for balance: an endpoint's share stays within about
// 2.5·sqrt(N/ringSize) of its weighted share, so the default keeps max/mean
// under 1.05 up to about 300 endpoints of equal weight; 1000 endpoints want
// 4194304 (8 MiB). Changing it reassigns keys.
type LBConfig struct {
	serviceconfig.LoadBalancingConfig `json:"-"`

	HashHeader string  `json:"hashHeader,omitempty"`
	RingSize   uint32  `json:"ringSize,omitempty"`
	LoadFactor float64 `json:"loadFactor,omitempty"`
	MissingKey string  `json:"missingKey,omitempty"`
}

// parseConfig decodes and validates js, filling in defaults. Unknown fields are
// refused so that a misspelt option is not silently ignored.
func parseConfig(js json.RawMessage) (*LBConfig, error) {
	cfg := &LBConfig{}
	if len(bytes.TrimSpace(js)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(cfg); err != nil {
			return nil, fmt.Errorf("consistenthash: invalid config %s: %v", js, err)
		}
	}
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// normalize validates cfg and applies the defaults.
func (c *LBConfig) normalize() error {
	c.HashHeader = strings.ToLower(c.HashHeader)
	if err := validateHeader(c.HashHeader); err != nil {
		return err
	}
	if c.RingSize == 0 {
		c.RingSize = DefaultRingSize
	}
	if c.RingSize < MinRingSize || c.RingSize > MaxRingSize || bits.OnesCount32(c.RingSize) != 1 {
		return fmt.Errorf("consistenthash: ringSize %d must be a power of two in [%d, %d]", c.RingSize, MinRingSize, MaxRingSize)
	}
	if lf := c.LoadFactor; math.IsNaN(lf) || (lf != 0 && lf < 1) || lf > 1000 {
		return fmt.Errorf("consistenthash: loadFactor %v must be 0 (unbounded) or in [1, 1000]", lf)
	}
	switch c.MissingKey {
	case "":
		c.MissingKey = MissingKeyRandom
	case MissingKeyRandom, MissingKeyFail:
	default:
		return fmt.Errorf("consistenthash: missingKey %q must be %q or %q", c.MissingKey, MissingKeyRandom, MissingKeyFail)
	}
	return nil
}

// validateHeader checks that h can name a gRPC metadata header that carries
// text: lowercase letters, digits, '-', '_' and '.', not binary ("-bin"), not
// a pseudo-header and not a reserved "grpc-" header.
func validateHeader(h string) error {
	if h == "" {
		return nil
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("consistenthash: hashHeader %q contains %q; want [a-z0-9-_.]", h, r)
		}
	}
	if strings.HasSuffix(h, "-bin") {
		return fmt.Errorf("consistenthash: hashHeader %q is a binary header; want a text header", h)
	}
	if strings.HasPrefix(h, "grpc-") {
		return fmt.Errorf("consistenthash: hashHeader %q is reserved by gRPC", h)
	}
	return nil
}
