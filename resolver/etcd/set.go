package etcd

import (
	"cmp"
	"slices"
	"strings"

	"google.golang.org/grpc/resolver"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// instanceSet is a service's instances keyed by instance id, with the sorted
// endpoint list the channel gets, kept up to date one change at a time:
// a change costs a binary search and, at most, one copy of the endpoint
// slice, never a re-sort or a rebuild of every endpoint's attributes.
//
// It follows kitresolver.Endpoints exactly: endpoints sorted by address,
// and of two instances with one address the one with the smaller id wins.
//
// An instanceSet is not safe for concurrent use.
type instanceSet struct {
	byID   map[string]kitresolver.Instance
	byAddr map[string][]kitresolver.Instance // sorted by id; [0] is served
	eps    []resolver.Endpoint               // sorted by address
	shared bool                              // eps was handed out; copy before writing
}

func newInstanceSet() *instanceSet {
	return &instanceSet{byID: map[string]kitresolver.Instance{}, byAddr: map[string][]kitresolver.Instance{}}
}

// reset replaces the whole set.
func (s *instanceSet) reset(insts []kitresolver.Instance) {
	*s = *newInstanceSet()
	for _, inst := range insts {
		s.byID[inst.ID] = inst
		s.addCandidate(inst)
	}
	s.eps = make([]resolver.Endpoint, 0, len(s.byAddr))
	for _, cands := range s.byAddr {
		s.eps = append(s.eps, endpointOf(cands[0]))
	}
	slices.SortFunc(s.eps, func(a, b resolver.Endpoint) int {
		return strings.Compare(a.Addresses[0].Addr, b.Addresses[0].Addr)
	})
}

// put adds or replaces the instance with inst's id and reports whether the
// endpoints changed.
func (s *instanceSet) put(inst kitresolver.Instance) bool {
	old, had := s.byID[inst.ID]
	if had && old.Equal(inst) {
		return false
	}
	s.byID[inst.ID] = inst
	changed := false
	if had {
		s.removeCandidate(old)
		if old.Addr != inst.Addr {
			changed = s.refresh(old.Addr)
		}
	}
	s.addCandidate(inst)
	return s.refresh(inst.Addr) || changed
}

// remove deletes the instance with the id and reports whether the endpoints changed.
func (s *instanceSet) remove(id string) bool {
	old, had := s.byID[id]
	if !had {
		return false
	}
	delete(s.byID, id)
	s.removeCandidate(old)
	return s.refresh(old.Addr)
}

// endpoints returns the sorted endpoints. The caller must not modify them;
// later changes copy the slice first.
func (s *instanceSet) endpoints() []resolver.Endpoint {
	s.shared = true
	return s.eps
}

// instances returns every instance, duplicates of an address included.
func (s *instanceSet) instances() []kitresolver.Instance {
	out := make([]kitresolver.Instance, 0, len(s.byID))
	for _, inst := range s.byID {
		out = append(out, inst)
	}
	return out
}

func (s *instanceSet) addCandidate(inst kitresolver.Instance) {
	cands := s.byAddr[inst.Addr]
	i, _ := slices.BinarySearchFunc(cands, inst.ID, byID)
	s.byAddr[inst.Addr] = slices.Insert(cands, i, inst)
}

func (s *instanceSet) removeCandidate(inst kitresolver.Instance) {
	cands := s.byAddr[inst.Addr]
	if i, ok := slices.BinarySearchFunc(cands, inst.ID, byID); ok {
		cands = slices.Delete(cands, i, i+1)
	}
	if len(cands) == 0 {
		delete(s.byAddr, inst.Addr)
		return
	}
	s.byAddr[inst.Addr] = cands
}

// refresh brings the endpoint of addr in line with its candidates and
// reports whether it changed.
func (s *instanceSet) refresh(addr string) bool {
	cands := s.byAddr[addr]
	i, found := slices.BinarySearchFunc(s.eps, addr, byAddr)
	switch {
	case found && len(cands) == 0:
		s.own()
		s.eps = slices.Delete(s.eps, i, i+1)
	case found:
		if cur, _ := kitresolver.InstanceFrom(s.eps[i]); cur.Equal(cands[0]) {
			return false
		}
		s.own()
		s.eps[i] = endpointOf(cands[0])
	case len(cands) > 0:
		s.own()
		s.eps = slices.Insert(s.eps, i, endpointOf(cands[0]))
	default:
		return false
	}
	return true
}

// own makes eps safe to write: after endpoints handed it out, it is copied,
// with room for one insertion.
func (s *instanceSet) own() {
	if s.shared {
		eps := make([]resolver.Endpoint, len(s.eps), len(s.eps)+1)
		copy(eps, s.eps)
		s.eps, s.shared = eps, false
	}
}

func endpointOf(inst kitresolver.Instance) resolver.Endpoint {
	ep := resolver.Endpoint{Addresses: []resolver.Address{{Addr: inst.Addr}}}
	return kitresolver.SetInstance(ep, inst)
}

func byID(inst kitresolver.Instance, id string) int { return cmp.Compare(inst.ID, id) }

func byAddr(ep resolver.Endpoint, addr string) int {
	return cmp.Compare(ep.Addresses[0].Addr, addr)
}
