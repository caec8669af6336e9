package lbconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/pickfirst"
	"google.golang.org/grpc/balancer/roundrobin"
)

// Policy is a load-balancing policy with a configuration its parser
// accepted: one entry of a service config's loadBalancingConfig list, or
// the child of a parent policy. It is immutable and safe to share.
//
// The zero Policy is no policy: its ServiceConfig is refused by
// grpc.NewClient (rather than leaving the channel on pick_first), and parent
// policies refuse it as a child.
type Policy struct {
	name   string
	config json.RawMessage // compact JSON object the policy's parser accepted
}

// New returns the registered policy name with config, which is marshalled to
// JSON (a json.RawMessage is taken as it is; nil stands for {}) and parsed
// by the policy's own parser, as the channel would parse it. The error is
// the parser's, which for grpckit's policies names the package and the
// field; the policy must be registered, by importing its package.
func New(name string, config any) (Policy, error) {
	js, err := marshalObject(config)
	if err != nil {
		return Policy{}, fmt.Errorf("lbconfig: config of %q: %v", name, err)
	}
	b := balancer.Get(name)
	if b == nil {
		return Policy{}, fmt.Errorf("lbconfig: no load-balancing policy %q is registered (import the package that registers it)", name)
	}
	if p, ok := b.(balancer.ConfigParser); ok {
		if _, err := p.ParseConfig(js); err != nil {
			return Policy{}, err
		}
	}
	return Policy{name: name, config: js}, nil
}

// marshalObject returns config as compact JSON and checks it is an object.
func marshalObject(config any) (json.RawMessage, error) {
	if config == nil {
		return json.RawMessage("{}"), nil
	}
	js, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	if string(js) == "null" {
		return json.RawMessage("{}"), nil
	}
	if js[0] != '{' {
		return nil, fmt.Errorf("want a JSON object, got %s", js)
	}
	return js, nil
}

// Must returns p, and panics if err is not nil. It is for configurations
// fixed in the program, such as Must(p2c.Policy()), which either always
// build or never do; a configuration read at run time keeps the error.
func Must(p Policy, err error) Policy {
	if err != nil {
		panic(err)
	}
	return p
}

// RoundRobin returns grpc-go's round_robin policy, the default child of
// grpckit's parent policies.
func RoundRobin() Policy { return Policy{name: roundrobin.Name, config: json.RawMessage("{}")} }

// PickFirst returns grpc-go's pick_first policy. On its own it sends every
// call of a channel to one address; it is meant as a child, or for a
// service that wants exactly that.
func PickFirst() Policy { return Policy{name: pickfirst.Name, config: json.RawMessage("{}")} }

// Name returns the name the policy is registered under; "" for the zero
// Policy.
func (p Policy) Name() string { return p.name }

// IsZero reports whether p is the zero Policy.
func (p Policy) IsZero() bool { return p.name == "" }

// Config returns a copy of the policy's JSON configuration, as its parser
// accepted it; nil for the zero Policy.
func (p Policy) Config() json.RawMessage { return bytes.Clone(p.config) }

var errZero = errors.New("lbconfig: the zero Policy names no policy; build one with a policy package's Policy function")

// MarshalJSON returns the policy's loadBalancingConfig entry,
// {"<name>":{...}}. The zero Policy is an error.
func (p Policy) MarshalJSON() ([]byte, error) {
	if p.IsZero() {
		return nil, errZero
	}
	name, err := json.Marshal(p.name)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(name)+len(p.config)+3)
	out = append(append(append(out, '{'), name...), ':')
	return append(append(out, p.config...), '}'), nil
}

// String returns the loadBalancingConfig entry, or "lbconfig.Policy{}" for
// the zero Policy.
func (p Policy) String() string {
	js, err := p.MarshalJSON()
	if err != nil {
		return "lbconfig.Policy{}"
	}
	return string(js)
}

// ServiceConfig returns a service config that selects the policy:
// {"loadBalancingConfig":[{"<name>":{...}}]}. For the zero Policy it is
// {"loadBalancingConfig":[]}, which grpc.NewClient refuses.
func (p Policy) ServiceConfig() string {
	if p.IsZero() {
		return `{"loadBalancingConfig":[]}`
	}
	return `{"loadBalancingConfig":[` + p.String() + `]}`
}

// DialOption returns grpc.WithDefaultServiceConfig(p.ServiceConfig()): the
// channel uses the policy unless the resolver supplies a service config of
// its own.
func (p Policy) DialOption() grpc.DialOption {
	return grpc.WithDefaultServiceConfig(p.ServiceConfig())
}
