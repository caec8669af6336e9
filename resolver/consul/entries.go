package consul

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc/resolver"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// Meta keys that carry the Instance fields Consul has no field for. Every
// other Meta key is an Instance.Metadata entry.
const (
	metaZone    = "zone"
	metaVersion = "version"
)

// entryNotes maps a Consul service ID to what is wrong with its entry (why
// it was skipped, or that its weight was capped), so a watcher logs each
// entry once rather than at every query.
type entryNotes map[string]string

func (n *entryNotes) add(id, note string) {
	if *n == nil {
		*n = entryNotes{}
	}
	(*n)[id] = note
}

// instancesFrom turns the entries of a health query into instances, in
// Consul's order. Entries in maintenance, entries that are not passing when
// healthy is set, and entries that make no valid Instance are left out; the
// reasons for the last kind, and the weights that were capped, are returned
// keyed by service ID.
func instancesFrom(entries []*api.ServiceEntry, healthy bool) ([]kitresolver.Instance, entryNotes) {
	insts := make([]kitresolver.Instance, 0, len(entries))
	var notes entryNotes
	for _, e := range entries {
		if e == nil || e.Service == nil {
			continue
		}
		inst, ok, note := instanceFrom(e, healthy)
		if note != "" {
			notes.add(e.Service.ID, note)
		}
		if ok {
			insts = append(insts, inst)
		}
	}
	return insts, notes
}

// sortByAddr sorts insts by address then ID, the order of
// kitresolver.Endpoints.
func sortByAddr(insts []kitresolver.Instance) {
	slices.SortFunc(insts, func(a, b kitresolver.Instance) int {
		return cmp.Or(cmp.Compare(a.Addr, b.Addr), cmp.Compare(a.ID, b.ID))
	})
}

// instanceFrom converts one entry. ok is false for an entry that is not to be
// served; note says why when the entry is bad rather than merely unhealthy,
// or that a served entry's weight was capped.
func instanceFrom(e *api.ServiceEntry, healthy bool) (inst kitresolver.Instance, ok bool, note string) {
	status := e.Checks.AggregatedStatus()
	if status == api.HealthMaint || (healthy && status != api.HealthPassing) {
		return inst, false, ""
	}
	w, capped, err := weightFor(e.Service.Weights, status)
	if err != nil {
		return inst, false, "skipped: " + err.Error()
	}
	if w == 0 {
		return inst, false, ""
	}
	addr, err := addrOf(e)
	if err != nil {
		return inst, false, "skipped: " + err.Error()
	}
	inst = kitresolver.Instance{
		ID:      e.Service.ID,
		Service: e.Service.Service,
		Addr:    addr,
		Weight:  w,
	}
	inst.Zone, inst.Version, inst.Metadata = splitMeta(e.Service.Meta)
	if err := inst.Validate(); err != nil {
		return inst, false, "skipped: " + err.Error()
	}
	if capped {
		note = fmt.Sprintf("weight %d capped at %d, the largest grpckit serves", weightOf(e.Service.Weights, status), kitresolver.MaxWeight)
	}
	return inst, true, note
}

// weightFor returns the weight of a service in status: Weights.Passing when
// passing, Weights.Warning otherwise (only reached when unhealthy instances are
// allowed). Unset weights mean the default; 0 means "send nothing". Consul
// allows weights up to 65535; one above kitresolver.MaxWeight is capped at
// it, and capped says so. A negative weight is an error.
func weightFor(w api.AgentWeights, status string) (weight uint32, capped bool, err error) {
	if w == (api.AgentWeights{}) {
		return kitresolver.DefaultWeight, false, nil
	}
	v := weightOf(w, status)
	switch {
	case v < 0:
		return 0, false, fmt.Errorf("weight %d is negative", v)
	case v > kitresolver.MaxWeight:
		return kitresolver.MaxWeight, true, nil
	}
	return uint32(v), false, nil
}

// weightOf returns the Consul weight that applies in status.
func weightOf(w api.AgentWeights, status string) int {
	if status != api.HealthPassing {
		return w.Warning
	}
	return w.Passing
}

// orderedEndpoints is kitresolver.Endpoints keeping the order of insts: when
// two instances share an address the one with the smaller ID is served,
// where it stands, and the other is logged and dropped.
func orderedEndpoints(service string, insts []kitresolver.Instance) []resolver.Endpoint {
	owner := make(map[string]string, len(insts)) // address -> smallest ID
	for _, inst := range insts {
		if id, ok := owner[inst.Addr]; !ok || inst.ID < id {
			owner[inst.Addr] = inst.ID
		}
	}
	eps := make([]resolver.Endpoint, 0, len(owner))
	served := make(map[string]bool, len(owner)) // two nodes may share an ID
	for _, inst := range insts {
		if id := owner[inst.Addr]; id != inst.ID || served[inst.Addr] {
			logger.Warningf("grpckit/consul: %s: instance %q: address %s already served by instance %q, skipped", service, inst.ID, inst.Addr, id)
			continue
		}
		served[inst.Addr] = true
		eps = append(eps, kitresolver.SetInstance(resolver.Endpoint{Addresses: []resolver.Address{{Addr: inst.Addr}}}, inst))
	}
	return eps
}

// addrOf returns the service address, falling back to the node's as Consul
// does when a service registers without one. A host that is neither an IP
// address nor a name, such as "10.0.0.7:8080" (Consul takes a port in
// Address), is an error: joined with the port it would make an address no
// client can dial.
func addrOf(e *api.ServiceEntry) (string, error) {
	host := e.Service.Address
	if host == "" && e.Node != nil {
		host = e.Node.Address
	}
	if host == "" || e.Service.Port <= 0 {
		return "", nil // rejected by Validate
	}
	if !isHost(host) {
		return "", fmt.Errorf("address %q is neither an IP address nor a host name", host)
	}
	return net.JoinHostPort(host, strconv.Itoa(e.Service.Port)), nil
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
