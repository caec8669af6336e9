package zoneaware

import (
	"encoding/json"
	"fmt"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/roundrobin"
	"google.golang.org/grpc/serviceconfig"
)

// childPolicy is the first registered policy of a childPolicy list and its
// parsed configuration.
type childPolicy struct {
	builder balancer.Builder
	config  serviceconfig.LoadBalancingConfig
}

// defaultChildPolicy is used when a configuration names no child.
func defaultChildPolicy() childPolicy {
	return childPolicy{builder: balancer.Get(roundrobin.Name)}
}

// parseChildPolicy parses a service-config list of the form
// [{"<policy>":{...}}, ...]. Like gRPC's own loadBalancingConfig, entries
// naming policies that are not registered are skipped and the first
// registered one is used; it is an error when none is.
func parseChildPolicy(raw json.RawMessage) (childPolicy, error) {
	var list []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return childPolicy{}, fmt.Errorf("zoneaware: childPolicy must be a list of {\"<policy>\":{...}} objects: %v", err)
	}
	var names []string
	for i, entry := range list {
		if len(entry) != 1 {
			return childPolicy{}, fmt.Errorf("zoneaware: childPolicy[%d] must have exactly one key, has %d", i, len(entry))
		}
		for name, cfg := range entry {
			names = append(names, name)
			if cp, ok, err := buildChildPolicy(name, cfg); ok || err != nil {
				return cp, err
			}
		}
	}
	return childPolicy{}, fmt.Errorf("zoneaware: no registered policy in childPolicy %q", names)
}

// buildChildPolicy looks name up in gRPC's balancer registry and parses cfg
// with the policy's own parser. ok is false when name is not registered.
func buildChildPolicy(name string, cfg json.RawMessage) (cp childPolicy, ok bool, err error) {
	b := balancer.Get(name)
	if b == nil {
		return childPolicy{}, false, nil
	}
	cp.builder = b
	parser, isParser := b.(balancer.ConfigParser)
	if !isParser {
		return cp, true, nil
	}
	if len(cfg) == 0 || string(cfg) == "null" {
		cfg = json.RawMessage("{}")
	}
	if cp.config, err = parser.ParseConfig(cfg); err != nil {
		return childPolicy{}, true, fmt.Errorf("zoneaware: childPolicy %q: %v", name, err)
	}
	return cp, true, nil
}
