package consul_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/internal/testutil"
	"github.com/grpckit/grpckit/registrytest"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/consul"
)

// TestThreeGreeters: three registered servers share the RPCs; one whose
// health goes NOT_SERVING stops receiving within two check intervals; one in
// maintenance mode is removed; both come back.
//
// Only g1's health is under test, through its gRPC check. g2 and g3 have TTL
// checks that cannot lapse during the test: with gRPC checks every second
// with a one-second timeout, which a starved test process misses now and
// then, both could be critical while g1 is NOT_SERVING, and the channel
// would rightly have nothing to pick from.
func TestThreeGreeters(t *testing.T) {
	t.Parallel()
	cli := agent.Client()
	b1 := startBackend(t, cli, "greeter-three", "g1")
	startBackend(t, cli, "greeter-three", "g2", consul.WithTTLCheck(longTTL))
	b3 := startBackend(t, cli, "greeter-three", "g3", consul.WithTTLCheck(longTTL))
	c, _ := dial(t, target("greeter-three"), consul.NewBuilder())
	waitServedBy(t, c, "g1", "g2", "g3")

	b1.Health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	changed := time.Now()
	var lastG1 time.Time
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	for time.Since(changed) < 2*testInterval+time.Second {
		if id, err := hello(ctx, c); err != nil {
			t.Fatalf("RPC failed while g1 drained: %v", err)
		} else if id == "g1" {
			lastG1 = time.Now()
		}
	}
	if d := lastG1.Sub(changed); d > 2*testInterval {
		t.Fatalf("g1 answered %v after going NOT_SERVING, want within two check intervals (%v)", d, 2*testInterval)
	}
	waitServedBy(t, c, "g2", "g3")
	b1.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	waitServedBy(t, c, "g1", "g2", "g3")

	if err := cli.Agent().EnableServiceMaintenance(b3.reg.ID(), "test"); err != nil {
		t.Fatalf("EnableServiceMaintenance: %v", err)
	}
	waitServedBy(t, c, "g1", "g2")
	if err := cli.Agent().DisableServiceMaintenance(b3.reg.ID()); err != nil {
		t.Fatalf("DisableServiceMaintenance: %v", err)
	}
	waitServedBy(t, c, "g1", "g2", "g3")
}

func TestTagFilter(t *testing.T) {
	t.Parallel()
	cli := agent.Client()
	startBackend(t, cli, "greeter-tags", "v1", consul.WithTags("v1"))
	startBackend(t, cli, "greeter-tags", "v2", consul.WithTags("v2"))
	startBackend(t, cli, "greeter-tags", "v2-canary", consul.WithTags("v2", "canary"))
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"v1", "v2", "v2-canary"}},
		{"tag=v2", []string{"v2", "v2-canary"}},
		{"tag=v2&tag=canary", []string{"v2-canary"}},
		{"tag=v1", []string{"v1"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			c, _ := dial(t, target("greeter-tags", tt.query), consul.NewBuilder())
			waitServedBy(t, c, tt.want...)
		})
	}
}

// TestInstanceAttributes checks the mapping from Consul to the typed
// endpoint attributes, the warning weight when unhealthy instances are
// allowed, and that nothing from the registry sets a TLS server name.
func TestInstanceAttributes(t *testing.T) {
	t.Parallel()
	cli := agent.Client()
	reg := &api.AgentServiceRegistration{
		ID: "w1", Name: "greeter-attrs", Address: "127.0.0.1", Port: 7001,
		Weights: &api.AgentWeights{Passing: 7, Warning: 2},
		Meta:    map[string]string{"zone": "eu-1a", "version": "1.4", "server_name": "evil.example"},
		Check:   &api.AgentServiceCheck{CheckID: "w1-ttl", TTL: "1h"},
	}
	claimID(t, cli, reg.ID)
	if err := cli.Agent().ServiceRegister(reg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Agent().ServiceDeregister("w1") })
	healthy := buildResolver(t, consul.NewBuilder(), target("greeter-attrs"))
	all := buildResolver(t, consul.NewBuilder(), target("greeter-attrs", "healthy=false"))
	want := kitresolver.Instance{ID: "w1", Service: "greeter-attrs", Addr: "127.0.0.1:7001", Weight: 7,
		Zone: "eu-1a", Version: "1.4", Metadata: map[string]string{"server_name": "evil.example"}}
	for status, weight := range map[string]uint32{api.HealthPassing: 7, api.HealthWarning: 2} {
		if err := cli.Agent().UpdateTTL("w1-ttl", "", status); err != nil {
			t.Fatal(err)
		}
		want.Weight = weight
		s := waitState(t, all, func(s resolver.State) bool {
			return len(s.Endpoints) == 1 && kitresolver.WeightOf(s.Endpoints[0]) == weight
		})
		if diff := cmp.Diff([]kitresolver.Instance{want}, instances(s)); diff != "" {
			t.Fatalf("%s: instances mismatch (-want +got):\n%s", status, diff)
		}
		if sn := s.Endpoints[0].Addresses[0].ServerName; sn != "" {
			t.Fatalf("registry data set the TLS server name to %q", sn)
		}
		wantHealthy := map[string]int{api.HealthPassing: 1, api.HealthWarning: 0}[status]
		waitState(t, healthy, func(s resolver.State) bool { return len(s.Endpoints) == wantHealthy })
	}
}

// TestEmptyOnlyWhenReallyEmpty: a service with no instances publishes an
// empty state at once (the initial state is always published); when the last
// instance is deregistered, RPCs fail fast with Unavailable.
func TestEmptyOnlyWhenReallyEmpty(t *testing.T) {
	t.Parallel()
	cc := buildResolver(t, consul.NewBuilder(), target("greeter-none"))
	waitState(t, cc, func(s resolver.State) bool { return len(s.Endpoints) == 0 })

	b := startBackend(t, agent.Client(), "greeter-last", "only")
	c, _ := dial(t, target("greeter-last"), consul.NewBuilder())
	waitServedBy(t, c, "only")
	if err := b.reg.Deregister(timeoutCtx(t, testutil.DefaultTimeout)); err != nil {
		t.Fatal(err)
	}
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	for {
		start := time.Now()
		_, err := hello(ctx, c)
		if status.Code(err) == codes.Unavailable {
			if d := time.Since(start); d > time.Second {
				t.Fatalf("RPC took %v to fail, want it to fail fast", d)
			}
			return
		}
		if err != nil {
			t.Fatalf("RPC after the last deregistration: %v, want Unavailable", err)
		}
		if ctx.Err() != nil {
			t.Fatal("RPCs still succeed after the last instance was deregistered")
		}
	}
}

// TestIdleTimeout: an idle channel closes its resolver and builds a new one
// when used again, which sees what changed meanwhile; goleak checks nothing
// is left behind.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	cli := agent.Client()
	startBackend(t, cli, "greeter-idle", "i1")
	b := &countingBuilder{Builder: consul.NewBuilder()}
	c, cc := dial(t, target("greeter-idle"), b, grpc.WithIdleTimeout(300*time.Millisecond))
	waitServedBy(t, c, "i1")
	waitConnState(t, cc, connectivity.Idle)
	startBackend(t, cli, "greeter-idle", "i2")
	waitServedBy(t, c, "i1", "i2")
	if n := b.builds.Load(); n < 2 {
		t.Fatalf("resolver built %d times, want a rebuild after idleness", n)
	}
}

func waitConnState(t *testing.T, cc *grpc.ClientConn, want connectivity.State) {
	t.Helper()
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	for s := cc.GetState(); s != want; s = cc.GetState() {
		if !cc.WaitForStateChange(ctx, s) {
			t.Fatalf("channel state %v, want %v", s, want)
		}
	}
}

// TestBadTargetFailsFirstRPC: a bad target fails the channel's RPCs with the
// reason.
func TestBadTargetFailsFirstRPC(t *testing.T) {
	t.Parallel()
	tests := []struct{ target, want string }{
		{"consul:///greeter?colour=red", `unknown target parameter "colour"`},
		{"consul:///greeter?token=c4n4ry", "CONSUL_HTTP_TOKEN"},
		{"consul:///", "service name is empty"},
	}
	for _, tt := range tests {
		c, _ := dial(t, tt.target, consul.NewBuilder())
		_, err := hello(timeoutCtx(t, testutil.DefaultTimeout), c)
		if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: RPC error %v, want Unavailable naming %q", tt.target, err, tt.want)
		}
		if strings.Contains(err.Error(), "c4n4ry") {
			t.Errorf("%s: RPC error %v echoes the token", tt.target, err)
		}
	}
}

// TestBlackholedAgent: Build does not wait for an agent that never answers,
// and RPCs end at their deadline.
func TestBlackholedAgent(t *testing.T) {
	t.Parallel()
	proxy := registrytest.StartProxy(t, agent.Addr())
	proxy.Blackhole()
	c, _ := dial(t, "consul://"+proxy.Addr()+"/greeter-blackhole", consul.NewBuilder())
	ctx := timeoutCtx(t, 300*time.Millisecond)
	start := time.Now()
	_, err := c.SayHello(ctx, nil)
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("RPC through a black-holed agent: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("RPC with a 300ms deadline returned after %v", d)
	}
}

// TestAgentFromEnvironment: without an authority the agent comes from
// CONSUL_HTTP_ADDR.
func TestAgentFromEnvironment(t *testing.T) {
	t.Setenv("CONSUL_HTTP_ADDR", agent.Addr())
	startBackend(t, agent.Client(), "greeter-env", "e1")
	c, _ := dial(t, "consul:///greeter-env", consul.NewBuilder())
	waitServedBy(t, c, "e1")
}
