package consul

import (
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

func TestServiceRegistration(t *testing.T) {
	inst := kitresolver.Instance{Service: "greeter", Addr: "10.0.0.1:50051", Weight: 3, Zone: "eu-1a", Version: "1.4", Metadata: map[string]string{"team": "core"}}
	tests := []struct {
		name string
		opts []RegisterOption
		inst kitresolver.Instance
		want *api.AgentServiceRegistration
	}{
		{
			name: "grpc check defaults", inst: inst,
			want: &api.AgentServiceRegistration{
				ID: "greeter-10.0.0.1:50051", Name: "greeter", Address: "10.0.0.1", Port: 50051,
				Meta:    map[string]string{"team": "core", "zone": "eu-1a", "version": "1.4"},
				Weights: &api.AgentWeights{Passing: 3, Warning: 1},
				Check: &api.AgentServiceCheck{
					CheckID: "service:greeter-10.0.0.1:50051", Name: "gRPC health", GRPC: "10.0.0.1:50051",
					Interval: "5s", Timeout: "5s", DeregisterCriticalServiceAfter: "1m0s",
				},
			},
		},
		{
			name: "grpc check options",
			inst: kitresolver.Instance{ID: "g1", Service: "greeter", Addr: "[::1]:9"},
			opts: []RegisterOption{
				WithCheckInterval(time.Second), WithCheckTimeout(300 * time.Millisecond), WithHealthService("greeter.v1.Greeter"),
				WithCheckTLS("greeter.internal"), WithDeregisterCriticalServiceAfter(0), WithTags("v2", "canary"), WithWarningWeight(0),
			},
			want: &api.AgentServiceRegistration{
				ID: "g1", Name: "greeter", Address: "::1", Port: 9, Tags: []string{"v2", "canary"},
				Weights: &api.AgentWeights{Passing: 1, Warning: 0},
				Check: &api.AgentServiceCheck{
					CheckID: "service:g1", Name: "gRPC health", GRPC: "[::1]:9/greeter.v1.Greeter", GRPCUseTLS: true,
					TLSServerName: "greeter.internal", Interval: "1s", Timeout: "300ms",
				},
			},
		},
		{
			name: "ttl check",
			inst: kitresolver.Instance{ID: "g1", Service: "greeter", Addr: "h:9"},
			opts: []RegisterOption{WithTTLCheck(3 * time.Second), WithDeregisterCriticalServiceAfter(2 * time.Minute)},
			want: &api.AgentServiceRegistration{
				ID: "g1", Name: "greeter", Address: "h", Port: 9,
				Weights: &api.AgentWeights{Passing: 1, Warning: 1},
				Check:   &api.AgentServiceCheck{CheckID: "service:g1", Name: "grpckit TTL", TTL: "3s", DeregisterCriticalServiceAfter: "2m0s"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := newRegisterConfig(tt.opts)
			if cfg.err != nil {
				t.Fatalf("options: %v", cfg.err)
			}
			got, err := serviceRegistration(tt.inst, &cfg)
			if err != nil {
				t.Fatalf("serviceRegistration() = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("serviceRegistration() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestServiceRegistrationErrors(t *testing.T) {
	good := kitresolver.Instance{Service: "greeter", Addr: "10.0.0.1:1"}
	tests := []struct {
		name    string
		mutate  func(*kitresolver.Instance)
		opts    []RegisterOption
		wantErr string
	}{
		{"no service", func(i *kitresolver.Instance) { i.Service = "" }, nil, "service name is empty"},
		{"bad addr", func(i *kitresolver.Instance) { i.Addr = "nohost" }, nil, "not host:port"},
		{"host with a port", func(i *kitresolver.Instance) { i.Addr = "[10.0.0.1:8080]:9090" }, nil, `address "[10.0.0.1:8080]:9090" has host "10.0.0.1:8080", which is neither an IP address nor a name`},
		{"IPv4 with a zone", func(i *kitresolver.Instance) { i.Addr = "10.0.0.1%eth0:9090" }, nil, "neither an IP address nor a name"},
		{"huge weight", func(i *kitresolver.Instance) { i.Weight = 1 << 20 }, nil, "above the maximum"},
		{"zone in metadata", func(i *kitresolver.Instance) { i.Metadata = map[string]string{"zone": "x"} }, nil, `metadata key "zone" is reserved for Instance.Zone`},
		{"bad meta key", func(i *kitresolver.Instance) { i.Metadata = map[string]string{"a.b": "x"} }, nil, `metadata key "a.b"`},
		{"reserved prefix", func(i *kitresolver.Instance) { i.Metadata = map[string]string{"consul-x": "x"} }, nil, "consul- prefix"},
		{"long value", func(i *kitresolver.Instance) { i.Metadata = map[string]string{"k": strings.Repeat("x", 513)} }, nil, "longer than 512"},
		{"short interval", func(*kitresolver.Instance) {}, []RegisterOption{WithCheckInterval(time.Millisecond)}, "WithCheckInterval(1ms)"},
		{"short ttl", func(*kitresolver.Instance) {}, []RegisterOption{WithTTLCheck(time.Millisecond)}, "WithTTLCheck(1ms)"},
		{"empty tag", func(*kitresolver.Instance) {}, []RegisterOption{WithTags("a", "")}, "empty tag"},
		{"bad backoff", func(*kitresolver.Instance) {}, []RegisterOption{WithBackoff(kitresolver.Backoff{})}, "WithBackoff"},
		{"NaN backoff", func(*kitresolver.Instance) {}, []RegisterOption{WithBackoff(kitresolver.Backoff{Base: time.Second, Max: time.Second, Multiplier: math.NaN()})}, "consul: WithBackoff: backoff multiplier NaN"},
		{"zero request timeout", func(*kitresolver.Instance) {}, []RegisterOption{WithRequestTimeout(0)}, "WithRequestTimeout(0s): want > 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst := good
			tt.mutate(&inst)
			// Register validates before it talks to the agent, so a client
			// of an unreachable address is enough.
			_, err := Register(t.Context(), mustClient(t), inst, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "consul: ") {
				t.Fatalf("Register() = %v, want a consul: error containing %q", err, tt.wantErr)
			}
		})
	}
}

func mustClient(t *testing.T) *api.Client {
	t.Helper()
	cfg := api.DefaultNonPooledConfig()
	cfg.Address = "127.0.0.1:1"
	cli, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cli
}

// TestSubSecondIntervalCountsAsASecond: Consul runs a check that asks for
// less than a second once a second, so the registrar's period, on which
// Drain's wait is bounded, is at least a second.
func TestSubSecondIntervalCountsAsASecond(t *testing.T) {
	cfg := newRegisterConfig([]RegisterOption{WithCheckInterval(100 * time.Millisecond), WithRequestTimeout(300 * time.Millisecond)})
	if p := cfg.period(); p != time.Second {
		t.Fatalf("period = %v with a 100ms interval, want Consul's 1s", p)
	}
	if d := (&Registration{cfg: cfg}).drainTimeout(); d != 2*time.Second+300*time.Millisecond {
		t.Fatalf("drain wait bound = %v, want two 1s periods and the request timeout", d)
	}
}

// TestErrorsSayConsulsReapTime: a failed Register says when Consul removes
// what it may have left as Consul counts it, a minute at least.
func TestErrorsSayConsulsReapTime(t *testing.T) {
	inst := kitresolver.Instance{Service: "greeter", Addr: "10.0.0.1:1"}
	cfg := api.DefaultNonPooledConfig()
	cfg.HttpClient = &http.Client{Transport: failingTransport{}}
	cli, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Register(t.Context(), cli, inst, WithDeregisterCriticalServiceAfter(10*time.Second), WithRequestTimeout(time.Second))
	if err == nil || !strings.Contains(err.Error(), "critical for 1m0s") {
		t.Fatalf("Register() = %v, want it to say Consul removes the service after 1m0s", err)
	}
}

// failingTransport fails every request after it may have been sent.
type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("connection reset after the request was sent")
}

// TestRegisterWithAgentDownSaysOnlyThat: when the agent refuses the
// connection the registration was never sent, so Register does not try to
// remove it and its error is only the connection's.
func TestRegisterWithAgentDownSaysOnlyThat(t *testing.T) {
	inst := kitresolver.Instance{Service: "greeter", Addr: "10.0.0.1:1"}
	_, err := Register(t.Context(), mustClient(t), inst)
	if err == nil || !strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "removing it again") {
		t.Fatalf("Register() = %v, want only the refused connection", err)
	}
}

// TestGracefulStopNilRegistration: a server that never registered is still
// stopped, with an error saying so, not a panic.
func TestGracefulStopNilRegistration(t *testing.T) {
	srv := grpc.NewServer()
	err := GracefulStop(t.Context(), srv, health.NewServer(), nil)
	if err == nil || !strings.HasPrefix(err.Error(), "consul: GracefulStop with a nil Registration") {
		t.Fatalf("GracefulStop(nil) = %v, want a consul: error naming the nil Registration", err)
	}
}

func TestRetryBackoffCappedAtPeriod(t *testing.T) {
	cfg := newRegisterConfig([]RegisterOption{WithCheckInterval(time.Second)})
	if b := cfg.retryBackoff(); b.Max != time.Second {
		t.Fatalf("retry backoff max = %v, want the 1s interval", b.Max)
	}
	cfg = newRegisterConfig([]RegisterOption{WithTTLCheck(3 * time.Second)})
	if b := cfg.retryBackoff(); b.Max != time.Second {
		t.Fatalf("TTL retry backoff max = %v, want ttl/3 = 1s", b.Max)
	}
}
