package consul_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/grpckit/grpckit/internal/greeter"
	"github.com/grpckit/grpckit/internal/testutil"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/consul"
)

// passing reports whether Consul lists id among service's passing instances.
func passing(t *testing.T, service, id string) bool {
	t.Helper()
	entries, _, err := agent.Client().Health().Service(service, "", true, (&api.QueryOptions{}).WithContext(timeoutCtx(t, testutil.DefaultTimeout)))
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(entries, func(e *api.ServiceEntry) bool { return e.Service.ID == id })
}

// TestWaitPassing: with WithWaitPassing, Register returns once Consul lists
// the instance as passing, so a client dialing right after finds it.
func TestWaitPassing(t *testing.T) {
	t.Parallel()
	const service = "greeter-waitpassing"
	for i := range 3 {
		g := greeter.Start(t, kitresolver.Instance{Service: service, ID: "wp" + string(rune('a'+i))})
		claimID(t, agent.Client(), g.Instance().ID)
		reg, err := consul.Register(timeoutCtx(t, testutil.DefaultTimeout), agent.Client(), g.Instance(),
			consul.WithCheckInterval(testInterval), consul.WithWaitPassing())
		if err != nil {
			t.Fatalf("Register: %v", err)
		}
		t.Cleanup(func() { _ = reg.Deregister(timeoutCtx(t, testutil.DefaultTimeout)) })
		if !passing(t, service, reg.ID()) {
			t.Fatalf("Register(WithWaitPassing) returned before Consul listed %s as passing", reg.ID())
		}
	}
}

// TestWaitPassingNeverPasses: an instance whose check never passes makes
// Register fail when its context ends, with the check's output, and leaves
// nothing registered.
func TestWaitPassingNeverPasses(t *testing.T) {
	t.Parallel()
	g := greeter.Start(t, kitresolver.Instance{Service: "greeter-neverpasses", ID: "np"})
	claimID(t, agent.Client(), g.Instance().ID)
	g.Health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := consul.Register(ctx, agent.Client(), g.Instance(), consul.WithCheckInterval(testInterval), consul.WithWaitPassing())
	if err == nil || !strings.Contains(err.Error(), "not passing") || !strings.Contains(err.Error(), "NOT_SERVING") {
		t.Fatalf("Register of a server that never passes = %v, want an error with the check's output", err)
	}
	svcs, err := agent.Client().Agent().Services()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := svcs["np"]; ok {
		t.Fatal("a Register that failed waiting for passing left the service registered")
	}
}
