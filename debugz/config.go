package debugz

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/roundrobin"
	"google.golang.org/grpc/serviceconfig"

	"github.com/grpckit/grpckit/balancer/lbconfig"
)

// Policy returns the debugz policy wrapping child: a channel using it
// balances as child does, and shows its endpoints on the page of its
// resolver (Page.Builder). child is any Policy: lbconfig.RoundRobin(),
// wrr.Policy(), p2c.Policy(), outlier.Policy(...), zoneaware.Policy(...).
// Pass Policy(...).DialOption() to grpc.NewClient.
func Policy(child lbconfig.Policy) (lbconfig.Policy, error) {
	if child.IsZero() {
		return lbconfig.Policy{}, errors.New("debugz: childPolicy is the zero lbconfig.Policy; pass lbconfig.RoundRobin() or a policy package's Policy()")
	}
	return lbconfig.New(PolicyName, struct {
		ChildPolicy []lbconfig.Policy `json:"childPolicy"`
	}{[]lbconfig.Policy{child}})
}

// lbConfig is a parsed configuration: the child policy. It is immutable.
type lbConfig struct {
	serviceconfig.LoadBalancingConfig `json:"-"`

	childBuilder balancer.Builder
	childConfig  serviceconfig.LoadBalancingConfig
}

// parseConfig parses {"childPolicy":[{"<policy>":{...}}, ...]}: like gRPC's
// loadBalancingConfig, the first registered policy of the list is the
// child; without childPolicy it is round_robin.
func parseConfig(raw json.RawMessage) (*lbConfig, error) {
	var jc struct {
		ChildPolicy []map[string]json.RawMessage `json:"childPolicy"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&jc); err != nil {
		return nil, fmt.Errorf("debugz: bad config: %v", err)
	}
	if len(jc.ChildPolicy) == 0 {
		rr := balancer.Get(roundrobin.Name)
		if rr == nil {
			return nil, errors.New("debugz: no childPolicy, and round_robin is not registered")
		}
		return &lbConfig{childBuilder: rr}, nil
	}
	var names []string
	for i, entry := range jc.ChildPolicy {
		if len(entry) != 1 {
			return nil, fmt.Errorf("debugz: childPolicy[%d] must have exactly one key, has %d", i, len(entry))
		}
		for name, cfg := range entry {
			names = append(names, name)
			if c, ok, err := childConfig(name, cfg); ok || err != nil {
				return c, err
			}
		}
	}
	return nil, fmt.Errorf("debugz: no registered policy in childPolicy %q", names)
}

// childConfig parses cfg with the parser of the policy registered as name;
// ok is false when there is none.
func childConfig(name string, cfg json.RawMessage) (c *lbConfig, ok bool, err error) {
	b := balancer.Get(name)
	if b == nil {
		return nil, false, nil
	}
	c = &lbConfig{childBuilder: b}
	p, isParser := b.(balancer.ConfigParser)
	if !isParser {
		return c, true, nil
	}
	if len(cfg) == 0 || string(cfg) == "null" {
		cfg = json.RawMessage("{}")
	}
	if c.childConfig, err = p.ParseConfig(cfg); err != nil {
		return nil, true, fmt.Errorf("debugz: childPolicy %q: %v", name, err)
	}
	return c, true, nil
}
