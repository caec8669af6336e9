package resolver

import (
	"google.golang.org/grpc/experimental/balancer/weight"
	"google.golang.org/grpc/resolver"
)

// instanceKey is the attribute key of the Instance on a resolver.Endpoint.
type instanceKey struct{}

// instanceAttr wraps an Instance so resolver.Attributes can compare it.
type instanceAttr struct{ inst Instance }

// Equal lets attributes.Attributes.Equal compare two endpoints' instances.
func (a instanceAttr) Equal(o any) bool {
	ob, ok := o.(instanceAttr)
	return ok && a.inst.Equal(ob.inst)
}

// SetInstance returns a copy of ep that carries inst, and grpc-go's weight
// attribute set to inst's effective weight so grpc-go's own weighted policies
// honour it too. A weight above MaxWeight is capped at MaxWeight on the
// carried Instance too, so every reader sees one weight in [0, MaxWeight].
// The Instance's Metadata map is shared, not copied.
func SetInstance(ep resolver.Endpoint, inst Instance) resolver.Endpoint {
	inst.Weight = min(inst.Weight, MaxWeight)
	ep.Attributes = ep.Attributes.WithValue(instanceKey{}, instanceAttr{inst})
	return weight.Set(ep, weight.EndpointInfo{Weight: inst.EffectiveWeight()})
}

// InstanceFrom returns the Instance that SetInstance stored on ep, and whether
// there was one.
func InstanceFrom(ep resolver.Endpoint) (Instance, bool) {
	a, ok := ep.Attributes.Value(instanceKey{}).(instanceAttr)
	return a.inst, ok
}

// WeightOf returns the weight balancers should use for ep: the Instance's
// effective weight when one is set, else grpc-go's weight attribute, else
// DefaultWeight, capped at MaxWeight. It never returns 0.
func WeightOf(ep resolver.Endpoint) uint32 {
	if inst, ok := InstanceFrom(ep); ok {
		return inst.EffectiveWeight()
	}
	if w := weight.FromEndpoint(ep).Weight; w > 0 {
		return min(w, MaxWeight)
	}
	return DefaultWeight
}

// ZoneOf returns the zone of ep's Instance, or "" when it carries none.
func ZoneOf(ep resolver.Endpoint) string {
	inst, _ := InstanceFrom(ep)
	return inst.Zone
}
