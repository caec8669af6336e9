package consul_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"

	"github.com/grpckit/grpckit/internal/greeter"
	"github.com/grpckit/grpckit/internal/testutil"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/consul"
)

// TestRegisterDeregister: the agent gets the instance's mapping and a gRPC
// check, and Deregister removes it and is idempotent.
func TestRegisterDeregister(t *testing.T) {
	t.Parallel()
	cli := agent.Client()
	srv := greeter.Start(t, kitresolver.Instance{Service: "greeter-reg"})
	inst := srv.Instance()
	inst.ID, inst.Weight, inst.Zone, inst.Version, inst.Metadata = "r1", 4, "eu-1b", "2.0", map[string]string{"team": "core"}
	claimID(t, cli, inst.ID)
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	reg, err := consul.Register(ctx, cli, inst, consul.WithCheckInterval(testInterval), consul.WithTags("v2"), consul.WithWarningWeight(2))
	if err != nil {
		t.Fatal(err)
	}
	svc, _, err := cli.Agent().Service("r1", nil)
	if err != nil {
		t.Fatal(err)
	}
	type view struct {
		Name, Address string
		Port          int
		Tags          []string
		Meta          map[string]string
		Weights       api.AgentWeights
	}
	want := view{"greeter-reg", "127.0.0.1", svc.Port, []string{"v2"}, map[string]string{"zone": "eu-1b", "version": "2.0", "team": "core"}, api.AgentWeights{Passing: 4, Warning: 2}}
	if diff := cmp.Diff(want, view{svc.Service, svc.Address, svc.Port, svc.Tags, svc.Meta, svc.Weights}); diff != "" {
		t.Fatalf("registered service mismatch (-want +got):\n%s", diff)
	}
	waitCheck(t, cli, "service:r1", api.HealthPassing, "grpc")
	for i := range 2 {
		if err := reg.Deregister(ctx); err != nil {
			t.Fatalf("Deregister #%d: %v", i+1, err)
		}
	}
	if _, _, err := cli.Agent().Service("r1", nil); err == nil {
		t.Fatal("the agent still knows r1 after Deregister")
	}
}

// TestReRegisterWhenForgotten: when the agent forgets the service, the
// registrar registers it again within two check intervals.
func TestReRegisterWhenForgotten(t *testing.T) {
	t.Parallel()
	cli := agent.Client()
	b := startBackend(t, cli, "greeter-forget", "f1")
	if err := cli.Agent().ServiceDeregister(b.reg.ID()); err != nil {
		t.Fatal(err)
	}
	forgotten := time.Now()
	waitService(t, cli, b.reg.ID())
	if d := time.Since(forgotten); d > 2*testInterval {
		t.Fatalf("registered again after %v, want within two check intervals", d)
	}
	waitCheck(t, cli, "service:"+b.reg.ID(), api.HealthPassing, "grpc")
}

// TestTTLCheck: in TTL mode the registrar keeps the check passing, restores
// a forgotten registration, and Drain fails the check and deregisters.
func TestTTLCheck(t *testing.T) {
	t.Parallel()
	cli := agent.Client()
	b := startBackend(t, cli, "greeter-ttl", "t1", consul.WithTTLCheck(time.Second))
	checkID := "service:" + b.reg.ID()
	waitCheck(t, cli, checkID, api.HealthPassing, "ttl")
	// Outlive the TTL several times: the registrar must keep it passing.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if st := checkStatus(t, cli, checkID); st != api.HealthPassing {
			t.Fatalf("TTL check went %q while the registrar runs", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := cli.Agent().ServiceDeregister(b.reg.ID()); err != nil {
		t.Fatal(err)
	}
	waitCheck(t, cli, checkID, api.HealthPassing, "ttl")
	if err := b.reg.Drain(timeoutCtx(t, testutil.DefaultTimeout), nil); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if _, _, err := cli.Agent().Service(b.reg.ID(), nil); err == nil {
		t.Fatal("the agent still knows the service after Drain")
	}
}

// TestGracefulStop: a server that stops through GracefulStop is drained from
// Consul and from the clients first, so no RPC fails.
//
// The other server, d1, has a TTL check that cannot lapse during the test:
// with a gRPC check it would be checked every second with a one-second
// timeout, which a starved test process misses now and then, and while d1's
// check is critical the passing set is empty once d2 drains, so the channel
// rightly has nothing to pick from. That would be d1's failure, not the
// drain's. Likewise each RPC may take as long as the test's timeout: the
// assertion is that no RPC fails because a server drained, not that each
// is answered within some latency on a loaded machine.
func TestGracefulStop(t *testing.T) {
	t.Parallel()
	cli := agent.Client()
	startBackend(t, cli, "greeter-drain", "d1", consul.WithTTLCheck(longTTL))
	b2 := startBackend(t, cli, "greeter-drain", "d2")
	c, _ := dial(t, target("greeter-drain"), consul.NewBuilder())
	waitServedBy(t, c, "d1", "d2")

	var failed atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx := timeoutCtx(t, time.Minute)
		for {
			select {
			case <-stop:
				return
			default:
			}
			callCtx, cancel := context.WithTimeout(ctx, testutil.DefaultTimeout)
			_, err := c.SayHello(callCtx, &greeterv1.SayHelloRequest{Name: "t"})
			cancel()
			if err != nil {
				failed.Add(1)
				t.Logf("RPC during drain: %v", err)
			}
		}
	}()
	err := consul.GracefulStop(timeoutCtx(t, testutil.DefaultTimeout), b2.GRPC, b2.Health, b2.reg)
	waitServedBy(t, c, "d1")
	close(stop)
	<-done
	if err != nil {
		t.Fatalf("GracefulStop: %v", err)
	}
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d RPCs failed while a server drained, want 0", n)
	}
}

func checkStatus(t testing.TB, cli *api.Client, checkID string) string {
	t.Helper()
	checks, err := cli.Agent().Checks()
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := checks[checkID]; ok {
		return c.Status
	}
	return ""
}

// waitCheck polls until checkID has status want, and checks its type.
func waitCheck(t testing.TB, cli *api.Client, checkID, want, typ string) {
	t.Helper()
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	var last *api.AgentCheck
	for ctx.Err() == nil {
		if checks, err := cli.Agent().Checks(); err == nil {
			if last = checks[checkID]; last != nil && last.Status == want {
				if last.Type != typ {
					t.Fatalf("check %s has type %q, want %q", checkID, last.Type, typ)
				}
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("check %s is %+v, want status %q", checkID, last, want)
}

// waitService polls until the agent knows each service ID.
func waitService(t testing.TB, cli *api.Client, ids ...string) {
	t.Helper()
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	for ctx.Err() == nil {
		svcs, err := cli.Agent().Services()
		if err == nil && !slices.ContainsFunc(ids, func(id string) bool { return svcs[id] == nil }) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the agent does not know all of %v", ids)
}
