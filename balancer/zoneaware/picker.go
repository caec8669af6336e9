package zoneaware

import (
	"math"
	"math/rand/v2"

	"google.golang.org/grpc/balancer"
)

// picker picks a zone by precomputed shares and delegates to that zone's
// child picker. It is immutable; Pick takes no lock and allocates nothing.
type picker struct {
	// bounds[i] is the highest random draw that picks zone i; the last is
	// math.MaxUint32. Only zones with a share are present.
	bounds  []uint32
	pickers []balancer.Picker
}

// newPicker builds a picker from zone shares and the zones' child pickers.
// Zones with no share, or no picker yet, are left out.
func newPicker(shares []float64, pickers []balancer.Picker) *picker {
	p := &picker{}
	var acc float64
	for i, s := range shares {
		if s <= 0 || pickers[i] == nil {
			continue
		}
		acc += s
		p.bounds = append(p.bounds, uint32(min(acc*(1<<32), math.MaxUint32)))
		p.pickers = append(p.pickers, pickers[i])
	}
	if n := len(p.bounds); n > 0 {
		p.bounds[n-1] = math.MaxUint32
	}
	return p
}

func (p *picker) Pick(info balancer.PickInfo) (balancer.PickResult, error) {
	i := 0
	if len(p.pickers) > 1 {
		r := rand.Uint32()
		for r > p.bounds[i] {
			i++
		}
	} else if len(p.pickers) == 0 {
		return balancer.PickResult{}, balancer.ErrNoSubConnAvailable
	}
	res, err := p.pickers[i].Pick(info)
	if sc, ok := res.SubConn.(*subConn); ok {
		res.SubConn = sc.SubConn
	}
	return res, err
}
