package lbinfo

import (
	"slices"
	"time"

	"google.golang.org/grpc/balancer"
)

// EndpointDetailer is implemented by pickers that publish what they know of
// each endpoint. EndpointDetails is called when a debug page renders, from
// any goroutine, while the picker serves picks: it must be safe for
// concurrent use, and return a slice the picker does not write to
// afterwards. A picker that wraps other pickers includes their details (see
// Merge).
type EndpointDetailer interface {
	EndpointDetails() []EndpointDetail
}

// EndpointDetail is what a policy knows of one endpoint address. Zero fields
// are unknown and not shown.
type EndpointDetail struct {
	// Addr is the address, as in the resolver's state.
	Addr string
	// Weight is the weight the policy balances by (wrr, p2c: the effective
	// weight, slow start included; consistenthash: the endpoint's share of
	// the ring's slots, from 0 to 1). A parent that does not balance by
	// weight (outlier, zoneaware) leaves it zero, so its child's shows.
	Weight float64
	// Cost is the policy's current cost of the endpoint (p2c: its latency
	// estimate times its load).
	Cost float64
	// EjectedUntil is when an ejected endpoint is let back (outlier); zero
	// when it is not ejected.
	EjectedUntil time.Time
	// Zone is the endpoint's zone as the policy sees it.
	Zone string
}

// Of returns p's details if p implements EndpointDetailer, else nil.
func Of(p balancer.Picker) []EndpointDetail {
	if d, ok := p.(EndpointDetailer); ok {
		return d.EndpointDetails()
	}
	return nil
}

// Merge returns child's details with own's laid over them, by address: each
// non-zero field of an own detail replaces the child's field of the same
// address; own details of addresses child lacks are appended, in own's
// order. Child's order is kept. The result is a new slice: Merge writes to
// neither argument, so a picker may hand out the same slice every time.
func Merge(child, own []EndpointDetail) []EndpointDetail {
	child = slices.Clip(slices.Clone(child))
	index := make(map[string]int, len(child))
	for i, d := range child {
		if _, ok := index[d.Addr]; !ok {
			index[d.Addr] = i
		}
	}
	for _, o := range own {
		i, ok := index[o.Addr]
		if !ok {
			index[o.Addr] = len(child)
			child = append(child, o)
			continue
		}
		child[i].overlay(o)
	}
	return child
}

// overlay sets d's fields from o's non-zero ones.
func (d *EndpointDetail) overlay(o EndpointDetail) {
	if o.Weight != 0 {
		d.Weight = o.Weight
	}
	if o.Cost != 0 {
		d.Cost = o.Cost
	}
	if !o.EjectedUntil.IsZero() {
		d.EjectedUntil = o.EjectedUntil
	}
	if o.Zone != "" {
		d.Zone = o.Zone
	}
}
