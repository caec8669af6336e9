package consul

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

func entry(id, addr string, port int, w api.AgentWeights, meta map[string]string, statuses ...string) *api.ServiceEntry {
	e := &api.ServiceEntry{
		Node:    &api.Node{Node: "n1", Address: "10.9.9.9"},
		Service: &api.AgentService{ID: id, Service: "greeter", Address: addr, Port: port, Weights: w, Meta: meta},
	}
	for i, st := range statuses {
		e.Checks = append(e.Checks, &api.HealthCheck{CheckID: "c" + string(rune('0'+i)), Status: st})
	}
	return e
}

func maint(e *api.ServiceEntry) *api.ServiceEntry {
	e.Checks = append(e.Checks, &api.HealthCheck{CheckID: api.ServiceMaintPrefix + e.Service.ID, Status: api.HealthCritical})
	return e
}

func TestInstancesFrom(t *testing.T) {
	w := api.AgentWeights{Passing: 5, Warning: 2}
	entries := []*api.ServiceEntry{
		entry("b", "10.0.0.2", 80, w, map[string]string{"zone": "eu-1a", "version": "1.2", "k": "v"}, api.HealthPassing),
		entry("a", "10.0.0.1", 80, w, nil, api.HealthPassing, api.HealthWarning),
		entry("c", "10.0.0.3", 80, w, nil, api.HealthCritical),
		maint(entry("m", "10.0.0.4", 80, w, nil, api.HealthPassing)),
		entry("node-addr", "", 81, api.AgentWeights{}, nil),
		entry("v6", "::1", 82, w, nil, api.HealthPassing),
		entry("no-port", "10.0.0.5", 0, w, nil, api.HealthPassing),
		entry("huge", "10.0.0.6", 80, api.AgentWeights{Passing: 65535, Warning: 1}, nil, api.HealthPassing),
		entry("neg", "10.0.0.7", 80, api.AgentWeights{Passing: -1, Warning: 1}, nil, api.HealthPassing),
		entry("warn0", "10.0.0.8", 80, api.AgentWeights{Passing: 3, Warning: 0}, nil, api.HealthWarning),
		entry("warn-huge", "10.0.1.1", 80, api.AgentWeights{Passing: 1, Warning: 20000}, nil, api.HealthWarning),
		entry("bad/id", "10.0.0.9", 80, w, nil, api.HealthPassing),
		entry("hostport", "10.0.1.2:8080", 80, w, nil, api.HealthPassing),
		entry("zone-v4", "10.0.1.3%eth0", 80, w, nil, api.HealthPassing),
		{Service: nil},
	}
	tests := []struct {
		name    string
		healthy bool
		want    []kitresolver.Instance
		notes   map[string]string // id -> "skipped" or "capped"
	}{
		{
			name: "healthy", healthy: true,
			want: []kitresolver.Instance{
				{ID: "b", Service: "greeter", Addr: "10.0.0.2:80", Weight: 5, Zone: "eu-1a", Version: "1.2", Metadata: map[string]string{"k": "v"}},
				{ID: "huge", Service: "greeter", Addr: "10.0.0.6:80", Weight: kitresolver.MaxWeight},
				{ID: "node-addr", Service: "greeter", Addr: "10.9.9.9:81", Weight: 1},
				{ID: "v6", Service: "greeter", Addr: "[::1]:82", Weight: 5},
			},
			notes: map[string]string{"bad/id": "skipped", "hostport": "skipped", "zone-v4": "skipped", "huge": "capped", "neg": "skipped", "no-port": "skipped"},
		},
		{
			name: "unhealthy allowed", healthy: false,
			want: []kitresolver.Instance{
				{ID: "a", Service: "greeter", Addr: "10.0.0.1:80", Weight: 2},
				{ID: "b", Service: "greeter", Addr: "10.0.0.2:80", Weight: 5, Zone: "eu-1a", Version: "1.2", Metadata: map[string]string{"k": "v"}},
				{ID: "c", Service: "greeter", Addr: "10.0.0.3:80", Weight: 2},
				{ID: "huge", Service: "greeter", Addr: "10.0.0.6:80", Weight: kitresolver.MaxWeight},
				{ID: "warn-huge", Service: "greeter", Addr: "10.0.1.1:80", Weight: kitresolver.MaxWeight},
				{ID: "node-addr", Service: "greeter", Addr: "10.9.9.9:81", Weight: 1},
				{ID: "v6", Service: "greeter", Addr: "[::1]:82", Weight: 5},
			},
			notes: map[string]string{"bad/id": "skipped", "hostport": "skipped", "zone-v4": "skipped", "huge": "capped", "neg": "skipped", "no-port": "skipped", "warn-huge": "capped"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, notes := instancesFrom(entries, tt.healthy)
			sortByAddr(got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("instances mismatch (-want +got):\n%s", diff)
			}
			kinds := map[string]string{}
			for id, note := range notes {
				switch {
				case strings.HasPrefix(note, "skipped: "):
					kinds[id] = "skipped"
				case strings.Contains(note, "capped at 10000"):
					kinds[id] = "capped"
				default:
					kinds[id] = note
				}
			}
			if diff := cmp.Diff(tt.notes, kinds); diff != "" {
				t.Errorf("notes mismatch (-want +got):\n%s\nnotes: %q", diff, notes)
			}
		})
	}
}

func TestMetaRoundTrip(t *testing.T) {
	inst := kitresolver.Instance{Zone: "z", Version: "v", Metadata: map[string]string{"a": "b"}}
	zone, version, rest := splitMeta(joinMeta(inst))
	got := kitresolver.Instance{Zone: zone, Version: version, Metadata: rest}
	if diff := cmp.Diff(inst, got); diff != "" {
		t.Fatalf("meta round trip mismatch (-want +got):\n%s", diff)
	}
	if m := joinMeta(kitresolver.Instance{}); m != nil {
		t.Fatalf("joinMeta(empty) = %v, want nil", m)
	}
}

// TestInstancesFromKeepsConsulOrder: the instances come in the entries'
// order, which is Consul's nearest-first order when the target sets near.
func TestInstancesFromKeepsConsulOrder(t *testing.T) {
	w := api.AgentWeights{Passing: 1, Warning: 1}
	entries := []*api.ServiceEntry{
		entry("far", "10.0.0.1", 80, w, nil),
		entry("near", "10.0.0.9", 80, w, nil),
		entry("mid", "10.0.0.5", 80, w, nil),
	}
	got, _ := instancesFrom(entries, true)
	var ids []string
	for _, inst := range got {
		ids = append(ids, inst.ID)
	}
	if diff := cmp.Diff([]string{"far", "near", "mid"}, ids); diff != "" {
		t.Fatalf("order mismatch (-want +got):\n%s", diff)
	}
}

// TestOrderedEndpoints: endpoints keep the instances' order; of two
// instances on one address the smaller ID is served once, where it stands.
func TestOrderedEndpoints(t *testing.T) {
	insts := []kitresolver.Instance{
		{ID: "z", Service: "greeter", Addr: "10.0.0.9:80"},
		{ID: "b", Service: "greeter", Addr: "10.0.0.5:80"},
		{ID: "a", Service: "greeter", Addr: "10.0.0.9:80"},
		{ID: "c", Service: "greeter", Addr: "10.0.0.1:80"},
		{ID: "a", Service: "greeter", Addr: "10.0.0.9:80"}, // same ID on another node
	}
	var got []kitresolver.Instance
	for _, ep := range orderedEndpoints("greeter", insts) {
		inst, ok := kitresolver.InstanceFrom(ep)
		if !ok || ep.Addresses[0].Addr != inst.Addr {
			t.Fatalf("endpoint %v does not carry its instance", ep)
		}
		got = append(got, inst)
	}
	want := []kitresolver.Instance{insts[1], insts[2], insts[3]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("endpoints mismatch (-want +got):\n%s", diff)
	}
}

// FuzzOrderedEndpoints checks orderedEndpoints against its definition: every
// address once, served by its smallest ID, in the order of the instances.
func FuzzOrderedEndpoints(f *testing.F) {
	f.Add([]byte{0, 1, 2, 1, 0, 0, 3, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		var insts []kitresolver.Instance
		for i := 0; i+1 < len(b); i += 2 {
			insts = append(insts, kitresolver.Instance{
				ID: string(rune('a' + b[i]%5)), Service: "greeter", Addr: "10.0.0." + strconv.Itoa(int(b[i+1]%4)) + ":80",
			})
		}
		owner := map[string]string{}
		for _, inst := range insts {
			if id, ok := owner[inst.Addr]; !ok || inst.ID < id {
				owner[inst.Addr] = inst.ID
			}
		}
		var want []kitresolver.Instance
		for _, inst := range insts {
			if owner[inst.Addr] == inst.ID {
				want = append(want, inst)
				delete(owner, inst.Addr)
			}
		}
		var got []kitresolver.Instance
		for _, ep := range orderedEndpoints("greeter", insts) {
			inst, _ := kitresolver.InstanceFrom(ep)
			got = append(got, inst)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("orderedEndpoints(%v) mismatch (-want +got):\n%s", insts, diff)
		}
	})
}
