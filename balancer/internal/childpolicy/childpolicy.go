// Package childpolicy holds what grpckit's parent policies (zoneaware,
// outlier) share about the child policy they wrap: parsing the childPolicy
// field of their configuration, and the signal by which an outlier child
// tells its parent which SubConns it ejected.
package childpolicy

import (
	"encoding/json"
	"fmt"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/roundrobin"
	"google.golang.org/grpc/serviceconfig"
)

// Policy is the first registered policy of a childPolicy list and its parsed
// configuration.
type Policy struct {
	Builder balancer.Builder
	Config  serviceconfig.LoadBalancingConfig
}

// Default is the policy used when a configuration names no child:
// round_robin. Its Builder is nil if round_robin is not registered.
func Default() Policy {
	return Policy{Builder: balancer.Get(roundrobin.Name)}
}

// Parse parses a service-config list of the form [{"<policy>":{...}}, ...].
// Like gRPC's own loadBalancingConfig, entries naming policies that are not
// registered are skipped and the first registered one is used; it is an
// error when none is. An empty or null raw gives Default. Errors name the
// childPolicy field; the caller prefixes its package name.
func Parse(raw json.RawMessage) (Policy, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return Default(), nil
	}
	var list []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return Policy{}, fmt.Errorf("childPolicy must be a list of {\"<policy>\":{...}} objects: %v", err)
	}
	var names []string
	for i, entry := range list {
		if len(entry) != 1 {
			return Policy{}, fmt.Errorf("childPolicy[%d] must have exactly one key, has %d", i, len(entry))
		}
		for name, cfg := range entry {
			names = append(names, name)
			if p, ok, err := build(name, cfg); ok || err != nil {
				return p, err
			}
		}
	}
	return Policy{}, fmt.Errorf("no registered policy in childPolicy %q", names)
}

// build looks name up in gRPC's balancer registry and parses cfg with the
// policy's own parser. ok is false when name is not registered.
func build(name string, cfg json.RawMessage) (p Policy, ok bool, err error) {
	b := balancer.Get(name)
	if b == nil {
		return Policy{}, false, nil
	}
	p.Builder = b
	parser, isParser := b.(balancer.ConfigParser)
	if !isParser {
		return p, true, nil
	}
	if len(cfg) == 0 || string(cfg) == "null" {
		cfg = json.RawMessage("{}")
	}
	if p.Config, err = parser.ParseConfig(cfg); err != nil {
		return Policy{}, true, fmt.Errorf("childPolicy %q: %v", name, err)
	}
	return p, true, nil
}

// EjectionObserver is implemented by the SubConns zoneaware hands its
// children. The outlier policy, when it ejects or lets back an endpoint, tells
// the SubConn it wraps if that SubConn is an EjectionObserver, before it tells
// its own child; so zoneaware{childPolicy: outlier} counts an ejected
// endpoint as not READY, as its child's picker sees it, and an outlier child
// it does not know of changes nothing.
type EjectionObserver interface {
	balancer.SubConn
	// SetEjected reports that the SubConn's endpoint was ejected (true) or
	// let back (false). It may be called from any goroutine, with no lock of
	// the caller held.
	SetEjected(ejected bool)
}
