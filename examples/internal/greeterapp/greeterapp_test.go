package greeterapp

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

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

// TestPolicies checks that every balancer's policy builds, names a grpckit
// or grpc-go policy, and is a service config grpc.NewClient accepts; and
// that Dial without a registry is refused.
func TestPolicies(t *testing.T) {
	for _, b := range Balancers {
		lb, err := Policy(b, "z")
		if err != nil {
			t.Fatalf("Policy(%q): %v", b, err)
		}
		var v struct {
			LB []map[string]json.RawMessage `json:"loadBalancingConfig"`
		}
		if err := json.Unmarshal([]byte(lb.ServiceConfig()), &v); err != nil || len(v.LB) != 1 || v.LB[0][lb.Name()] == nil {
			t.Errorf("Policy(%q) = %s: not one policy (%v)", b, lb.ServiceConfig(), err)
		}
		cc, err := grpc.NewClient("passthrough:///unused", grpc.WithTransportCredentials(insecure.NewCredentials()), lb.DialOption())
		if err != nil {
			t.Errorf("Policy(%q): grpc.NewClient refused %s: %v", b, lb.ServiceConfig(), err)
			continue
		}
		cc.Close()
	}
	if _, err := Dial(ClientConfig{}); err == nil || !strings.Contains(err.Error(), "exactly one of") {
		t.Errorf("Dial without a registry: %v, want an error naming the registry", err)
	}
}
