package lbconfig_test

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/grpckit/grpckit/balancer/consistenthash"
	"github.com/grpckit/grpckit/balancer/lbconfig"
	"github.com/grpckit/grpckit/balancer/outlier"
	"github.com/grpckit/grpckit/balancer/p2c"
	"github.com/grpckit/grpckit/balancer/wrr"
	"github.com/grpckit/grpckit/balancer/zoneaware"
)

// newClient reports whether grpc.NewClient accepts opt, and its error.
func newClient(opt grpc.DialOption) error {
	cc, err := grpc.NewClient("passthrough:///unused", grpc.WithTransportCredentials(insecure.NewCredentials()), opt)
	if err == nil {
		cc.Close()
	}
	return err
}

// TestEveryPolicyDials checks that the DialOption of every policy, leaf and
// nested, is a service config grpc.NewClient accepts, naming the policy.
func TestEveryPolicyDials(t *testing.T) {
	leaves := map[string]lbconfig.Policy{
		"round_robin":    lbconfig.RoundRobin(),
		"pick_first":     lbconfig.PickFirst(),
		"wrr":            lbconfig.Must(wrr.Policy()),
		"p2c":            lbconfig.Must(p2c.Policy()),
		"consistenthash": lbconfig.Must(consistenthash.Policy(consistenthash.WithHashHeader("x-user-id"))),
	}
	all := map[string]lbconfig.Policy{}
	for name, leaf := range leaves {
		all[name] = leaf
		all["zoneaware/"+name] = lbconfig.Must(zoneaware.Policy(leaf))
		all["outlier/"+name] = lbconfig.Must(outlier.Policy(leaf))
		all["outlier/zoneaware/"+name] = lbconfig.Must(outlier.Policy(all["zoneaware/"+name]))
		all["zoneaware/outlier/"+name] = lbconfig.Must(zoneaware.Policy(all["outlier/"+name]))
	}
	for name, p := range all {
		if err := newClient(p.DialOption()); err != nil {
			t.Errorf("%s: grpc.NewClient refused %s: %v", name, p.ServiceConfig(), err)
		}
		var sc struct {
			LB []map[string]json.RawMessage `json:"loadBalancingConfig"`
		}
		if err := json.Unmarshal([]byte(p.ServiceConfig()), &sc); err != nil || len(sc.LB) != 1 || sc.LB[0][p.Name()] == nil {
			t.Errorf("%s: ServiceConfig %s does not select %q alone (%v)", name, p.ServiceConfig(), p.Name(), err)
		}
	}
}

// TestZeroPolicy checks that the zero Policy never leaves a channel on
// pick_first silently: NewClient refuses it, parents refuse it as a child,
// and it does not marshal.
func TestZeroPolicy(t *testing.T) {
	var zero lbconfig.Policy
	if !zero.IsZero() || zero.Name() != "" || zero.Config() != nil {
		t.Errorf("zero Policy: IsZero %v, Name %q, Config %s", zero.IsZero(), zero.Name(), zero.Config())
	}
	if err := newClient(zero.DialOption()); err == nil {
		t.Errorf("grpc.NewClient accepted the zero Policy's %s", zero.ServiceConfig())
	}
	if _, err := json.Marshal(zero); err == nil || !strings.Contains(err.Error(), "zero Policy") {
		t.Errorf("json.Marshal(zero) error %v, want one naming the zero Policy", err)
	}
	if got := zero.String(); got != "lbconfig.Policy{}" {
		t.Errorf("String() = %q", got)
	}
	if _, err := zoneaware.Policy(zero); err == nil || !strings.HasPrefix(err.Error(), "zoneaware: childPolicy") {
		t.Errorf("zoneaware.Policy(zero) error %v, want one naming childPolicy", err)
	}
	if _, err := outlier.Policy(zero); err == nil || !strings.HasPrefix(err.Error(), "outlier: childPolicy") {
		t.Errorf("outlier.Policy(zero) error %v, want one naming childPolicy", err)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name, policy string
		config       any
		want         string // the entry, or
		wantErr      string // a substring of the error
	}{
		{name: "nil config", policy: "round_robin", want: `{"round_robin":{}}`},
		{name: "null config", policy: "round_robin", config: json.RawMessage("null"), want: `{"round_robin":{}}`},
		{name: "raw JSON compacted", policy: p2c.Name, config: json.RawMessage(` { "decayTime" : "5s" } `), want: `{"grpckit_p2c":{"decayTime":"5s"}}`},
		{name: "struct", policy: "pick_first", config: struct {
			Shuffle bool `json:"shuffleAddressList"`
		}{true}, want: `{"pick_first":{"shuffleAddressList":true}}`},
		{name: "map", policy: consistenthash.Name, config: map[string]any{"hashHeader": "x-k"}, want: `{"grpckit_consistent_hash":{"hashHeader":"x-k"}}`},
		{name: "not registered", policy: "nope", wantErr: `lbconfig: no load-balancing policy "nope" is registered`},
		{name: "not an object", policy: "round_robin", config: []int{1}, wantErr: `lbconfig: config of "round_robin": want a JSON object, got [1]`},
		{name: "not JSON", policy: p2c.Name, config: json.RawMessage(`{`), wantErr: `lbconfig: config of "grpckit_p2c": `},
		{name: "unmarshalable", policy: p2c.Name, config: map[string]any{"x": func() {}}, wantErr: `lbconfig: config of "grpckit_p2c": `},
		{name: "parser refuses, its error", policy: p2c.Name, config: json.RawMessage(`{"decayTime":"1ms"}`), wantErr: "p2c: invalid config"},
		{name: "parser refuses unknown field", policy: wrr.Name, config: json.RawMessage(`{"slowStart":"1s"}`), wantErr: `wrr: invalid config {"slowStart":"1s"}: json: unknown field "slowStart"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := lbconfig.New(tt.policy, tt.config)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New error %v, want one containing %q", err, tt.wantErr)
				}
				if !p.IsZero() {
					t.Errorf("New returned %v with its error", p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.String(); got != tt.want {
				t.Errorf("New = %s, want %s", got, tt.want)
			}
			if p.Name() != tt.policy {
				t.Errorf("Name() = %q, want %q", p.Name(), tt.policy)
			}
		})
	}
}

// TestConfigIsACopy checks that a Policy stays as built whatever is done to
// what Config returns.
func TestConfigIsACopy(t *testing.T) {
	p := lbconfig.Must(p2c.Policy(p2c.WithDecayTime(5e9)))
	c := p.Config()
	for i := range c {
		c[i] = 'x'
	}
	if got, want := p.String(), `{"grpckit_p2c":{"decayTime":"5s"}}`; got != want {
		t.Errorf("after changing Config's copy, the Policy is %s, want %s", got, want)
	}
}

func TestMustPanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(error).Error(), "p2c: decayTime") {
			t.Errorf("Must recovered %v, want the builder's error", r)
		}
	}()
	lbconfig.Must(p2c.Policy(p2c.WithDecayTime(-1)))
}

// TestEmbeddedInServiceConfig checks that a Policy marshalled inside a
// service config of the caller's, beside a method config with a retry
// policy, is a service config grpc.NewClient accepts.
func TestEmbeddedInServiceConfig(t *testing.T) {
	zones := lbconfig.Must(zoneaware.Policy(lbconfig.Must(p2c.Policy()), zoneaware.WithLocalZone("a")))
	sc, err := json.Marshal(map[string]any{
		"loadBalancingConfig": []lbconfig.Policy{zones, lbconfig.RoundRobin()},
		"methodConfig": []any{map[string]any{
			"name":    []any{map[string]string{"service": "greeter.v1.Greeter"}},
			"timeout": "2s",
			"retryPolicy": map[string]any{
				"maxAttempts": 3, "initialBackoff": "0.1s", "maxBackoff": "1s",
				"backoffMultiplier": 2, "retryableStatusCodes": []string{"UNAVAILABLE"},
			},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := newClient(grpc.WithDefaultServiceConfig(string(sc))); err != nil {
		t.Errorf("grpc.NewClient refused %s: %v", sc, err)
	}
}
