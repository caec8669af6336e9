package debugz

import (
	"cmp"
	"slices"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/endpointsharding"
	"google.golang.org/grpc/connectivity"

	"github.com/grpckit/grpckit/balancer/lbinfo"
)

func (e *balancerEntry) view() BalancerView {
	e.mu.Lock()
	v := BalancerView{
		ID:          e.id,
		ResolverID:  e.resolverID,
		Target:      clip(e.target),
		ChildPolicy: e.childName,
		State:       e.state.String(),
	}
	recs := make([]*endpointStats, 0, len(e.byAddr))
	inSet := make(map[*endpointStats]bool, len(e.addrs))
	for _, a := range e.addrs {
		recs = append(recs, e.byAddr[a])
		inSet[e.byAddr[a]] = true
	}
	for _, rec := range e.scs {
		if !inSet[rec] {
			inSet[rec] = true
			recs = append(recs, rec)
		}
	}
	child, ids := e.childPicker, e.ids
	e.mu.Unlock()

	v.Endpoints = make([]EndpointView, 0, len(recs))
	index := make(map[string]int, len(recs))
	for _, rec := range recs {
		ev := EndpointView{
			Address:  clip(rec.addr),
			ID:       clip(ids[rec.addr]),
			Picks:    rec.picks.Load(),
			InFlight: rec.inFlight.Load(),
		}
		if st := rec.state.Load(); st >= 0 {
			ev.State = connectivity.State(st).String()
		}
		v.Picks += ev.Picks
		v.InFlight += ev.InFlight
		index[rec.addr] = len(v.Endpoints)
		v.Endpoints = append(v.Endpoints, ev)
	}
	for i := range v.Endpoints {
		if v.Picks > 0 {
			v.Endpoints[i].Share = float64(v.Endpoints[i].Picks) / float64(v.Picks)
		}
	}
	addChildDetails(v.Endpoints, index, child)
	for i := range v.Endpoints {
		ep := &v.Endpoints[i]
		ep.Serving = ep.State == connectivity.Ready.String() && ep.EjectedUntil == nil
		if ep.Serving {
			v.Serving++
		}
	}
	slices.SortFunc(v.Endpoints, func(a, b EndpointView) int { return cmp.Compare(a.Address, b.Address) })
	return v
}

// addChildDetails adds to eps what the child's picker tells of them:
// endpointsharding's per-endpoint states, and EndpointDetailer's details.
func addChildDetails(eps []EndpointView, index map[string]int, child balancer.Picker) {
	if child == nil {
		return
	}
	for _, cs := range endpointsharding.ChildStatesFromPicker(child) {
		for _, a := range cs.Endpoint.Addresses {
			if i, ok := index[a.Addr]; ok {
				eps[i].ChildState = cs.State.ConnectivityState.String()
			}
		}
	}
	for _, det := range lbinfo.Of(child) {
		i, ok := index[det.Addr]
		if !ok {
			continue
		}
		eps[i].Weight, eps[i].Cost, eps[i].Zone = det.Weight, det.Cost, clip(det.Zone)
		eps[i].EjectedUntil = timePtr(det.EjectedUntil)
	}
}
