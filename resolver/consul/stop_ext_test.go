package consul_test

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	"github.com/grpckit/grpckit/internal/testutil"
	"github.com/grpckit/grpckit/registrytest"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/consul"
)

// TestGracefulStopAgentRefuses: with nothing listening at the agent's
// address, GracefulStop with a context that never ends returns at once
// instead of waiting out its drain bound, and stops the registrar, which
// would otherwise register the stopped server again.
func TestGracefulStopAgentRefuses(t *testing.T) {
	t.Parallel()
	const reqTimeout = 2 * time.Second // the drain bound is 2×10s/3 + 2s
	proxy := registrytest.StartProxy(t, agent.Addr())
	cfg := agent.Config()
	cfg.Address = proxy.Addr()
	cli, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	inst := kitresolver.Instance{ID: "stop-refused", Service: "greeter-stop", Addr: "127.0.0.1:1"}
	claimID(t, agent.Client(), inst.ID)
	reg, err := consul.Register(timeoutCtx(t, testutil.DefaultTimeout), cli, inst,
		consul.WithTTLCheck(10*time.Second), consul.WithRequestTimeout(reqTimeout))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = agent.Client().Agent().ServiceDeregister(inst.ID) })
	proxy.Close() // connections to the agent's address are refused from now on

	srv, hs := grpc.NewServer(), health.NewServer()
	start := time.Now()
	err = consul.GracefulStop(context.Background(), srv, hs, reg)
	took := time.Since(start)
	if err == nil {
		t.Fatal("GracefulStop with the agent refusing connections succeeded")
	}
	if took >= reqTimeout {
		t.Fatalf("GracefulStop took %v with the agent refusing connections, want less than one request timeout (%v): %v", took, reqTimeout, err)
	}
	if !consul.Stopped(reg) {
		t.Fatalf("GracefulStop returned (%v) with the registrar still running", err)
	}
	t.Logf("GracefulStop returned after %v: %v", took.Round(time.Millisecond), err)
}
