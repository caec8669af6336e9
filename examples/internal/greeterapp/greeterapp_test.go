package greeterapp

import (
	"encoding/json"
	"strings"
	"testing"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

func TestAdvertised(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{":50051", "127.0.0.1:50051"},
		{"0.0.0.0:50051", "127.0.0.1:50051"},
		{"[::]:50051", "127.0.0.1:50051"},
		{"10.0.0.7:50051", "10.0.0.7:50051"},
		{"[::1]:50051", "[::1]:50051"},
	} {
		if got := advertised(tc.in); got != tc.want {
			t.Errorf("advertised(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestInstanceFor(t *testing.T) {
	got := instanceFor(kitresolver.Instance{Weight: 2}, "[::]:7000")
	want := kitresolver.Instance{Service: "greeter", ID: "127.0.0.1:7000", Addr: "127.0.0.1:7000", Weight: 2}
	if !got.Equal(want) {
		t.Errorf("instanceFor = %v, want %v", got, want)
	}
}

// TestServiceConfigs checks that every balancer's service config is valid
// JSON naming a grpckit or grpc-go policy, and that lbConfig replaces the
// default configuration.
func TestServiceConfigs(t *testing.T) {
	for _, b := range Balancers {
		sc, err := ServiceConfig(b, "z", "")
		if err != nil {
			t.Fatalf("ServiceConfig(%q): %v", b, err)
		}
		var v struct {
			LB []map[string]json.RawMessage `json:"loadBalancingConfig"`
		}
		if err := json.Unmarshal([]byte(sc), &v); err != nil || len(v.LB) != 1 {
			t.Errorf("ServiceConfig(%q) = %s: not one policy (%v)", b, sc, err)
		}
	}
	sc, err := ServiceConfig("wrr", "", `{"slowStartWindow":"5s"}`)
	if err != nil || !strings.Contains(sc, `"grpckit_weighted_round_robin":{"slowStartWindow":"5s"}`) {
		t.Errorf("ServiceConfig with lbConfig = %s, %v", sc, err)
	}
	if _, err := Dial(ClientConfig{}); err == nil || !strings.Contains(err.Error(), "exactly one of") {
		t.Errorf("Dial without a registry: %v, want an error naming the registry", err)
	}
}
