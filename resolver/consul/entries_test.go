package consul

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
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
		entry("bad/id", "10.0.0.9", 80, w, nil, api.HealthPassing),
		{Service: nil},
	}
	tests := []struct {
		name    string
		healthy bool
		want    []kitresolver.Instance
		bad     []string
	}{
		{
			name: "healthy", healthy: true,
			want: []kitresolver.Instance{
				{ID: "b", Service: "greeter", Addr: "10.0.0.2:80", Weight: 5, Zone: "eu-1a", Version: "1.2", Metadata: map[string]string{"k": "v"}},
				{ID: "node-addr", Service: "greeter", Addr: "10.9.9.9:81", Weight: 1},
				{ID: "v6", Service: "greeter", Addr: "[::1]:82", Weight: 5},
			},
			bad: []string{"bad/id", "huge", "neg", "no-port"},
		},
		{
			name: "unhealthy allowed", healthy: false,
			want: []kitresolver.Instance{
				{ID: "a", Service: "greeter", Addr: "10.0.0.1:80", Weight: 2},
				{ID: "b", Service: "greeter", Addr: "10.0.0.2:80", Weight: 5, Zone: "eu-1a", Version: "1.2", Metadata: map[string]string{"k": "v"}},
				{ID: "c", Service: "greeter", Addr: "10.0.0.3:80", Weight: 2},
				{ID: "node-addr", Service: "greeter", Addr: "10.9.9.9:81", Weight: 1},
				{ID: "v6", Service: "greeter", Addr: "[::1]:82", Weight: 5},
			},
			bad: []string{"bad/id", "huge", "neg", "no-port"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, bad := instancesFrom(entries, tt.healthy)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("instances mismatch (-want +got):\n%s", diff)
			}
			var badIDs []string
			for id := range bad {
				badIDs = append(badIDs, id)
			}
			if diff := cmp.Diff(tt.bad, badIDs, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("skipped mismatch (-want +got):\n%s", diff)
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
