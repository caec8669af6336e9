package consul

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"

	"github.com/hashicorp/consul/api"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// Meta keys that carry the Instance fields Consul has no field for. Every
// other Meta key is an Instance.Metadata entry.
const (
	metaZone    = "zone"
	metaVersion = "version"
)

// skipped maps a Consul service ID to the reason its entry was skipped, so a
// watcher logs each bad entry once rather than at every query.
type skipped map[string]string

// instancesFrom turns the entries of a health query into instances sorted by
// address then ID. Entries in maintenance, entries that are not passing when
// healthy is set, and entries that make no valid Instance are left out; the
// reasons for the last kind are returned keyed by service ID.
func instancesFrom(entries []*api.ServiceEntry, healthy bool) ([]kitresolver.Instance, skipped) {
	insts := make([]kitresolver.Instance, 0, len(entries))
	var bad skipped
	for _, e := range entries {
		if e == nil || e.Service == nil {
			continue
		}
		inst, ok, err := instanceFrom(e, healthy)
		if err != nil {
			if bad == nil {
				bad = skipped{}
			}
			bad[e.Service.ID] = err.Error()
		}
		if ok {
			insts = append(insts, inst)
		}
	}
	slices.SortFunc(insts, func(a, b kitresolver.Instance) int {
		return cmp.Or(cmp.Compare(a.Addr, b.Addr), cmp.Compare(a.ID, b.ID))
	})
	return insts, bad
}

// instanceFrom converts one entry. ok is false for an entry that is not to be
// served; err says why when the entry is bad rather than merely unhealthy.
func instanceFrom(e *api.ServiceEntry, healthy bool) (inst kitresolver.Instance, ok bool, err error) {
	status := e.Checks.AggregatedStatus()
	if status == api.HealthMaint || (healthy && status != api.HealthPassing) {
		return inst, false, nil
	}
	w, err := weightFor(e.Service.Weights, status)
	if err != nil || w == 0 {
		return inst, false, err
	}
	inst = kitresolver.Instance{
		ID:      e.Service.ID,
		Service: e.Service.Service,
		Addr:    addrOf(e),
		Weight:  w,
	}
	inst.Zone, inst.Version, inst.Metadata = splitMeta(e.Service.Meta)
	if err := inst.Validate(); err != nil {
		return inst, false, err
	}
	return inst, true, nil
}

// weightFor returns the weight of a service in status: Weights.Passing when
// passing, Weights.Warning otherwise (only reached when unhealthy instances are
// allowed). Unset weights mean the default; 0 means "send nothing".
func weightFor(w api.AgentWeights, status string) (uint32, error) {
	if w == (api.AgentWeights{}) {
		return kitresolver.DefaultWeight, nil
	}
	v := w.Passing
	if status != api.HealthPassing {
		v = w.Warning
	}
	if v < 0 || v > kitresolver.MaxWeight {
		return 0, fmt.Errorf("weight %d is outside 0-%d", v, kitresolver.MaxWeight)
	}
	return uint32(v), nil
}

// addrOf returns the service address, falling back to the node's as Consul
// does when a service registers without one.
func addrOf(e *api.ServiceEntry) string {
	host := e.Service.Address
	if host == "" && e.Node != nil {
		host = e.Node.Address
	}
	if host == "" || e.Service.Port <= 0 {
		return "" // rejected by Validate
	}
	return net.JoinHostPort(host, strconv.Itoa(e.Service.Port))
}

// splitMeta separates zone and version from the rest of a service's Meta.
func splitMeta(meta map[string]string) (zone, version string, rest map[string]string) {
	zone, version = meta[metaZone], meta[metaVersion]
	for k, v := range meta {
		if k == metaZone || k == metaVersion {
			continue
		}
		if rest == nil {
			rest = make(map[string]string, len(meta))
		}
		rest[k] = v
	}
	return zone, version, rest
}

// joinMeta is splitMeta's inverse, used by the registrar.
func joinMeta(inst kitresolver.Instance) map[string]string {
	meta := maps.Clone(inst.Metadata)
	if meta == nil && (inst.Zone != "" || inst.Version != "") {
		meta = make(map[string]string, 2)
	}
	if inst.Zone != "" {
		meta[metaZone] = inst.Zone
	}
	if inst.Version != "" {
		meta[metaVersion] = inst.Version
	}
	return meta
}

// equalInstances reports whether two sorted instance lists are the same.
func equalInstances(a, b []kitresolver.Instance) bool {
	return slices.EqualFunc(a, b, kitresolver.Instance.Equal)
}
