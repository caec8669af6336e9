package consul_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/grpckit/grpckit/internal/testutil"
	"github.com/grpckit/grpckit/registrytest"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/consul"
)

// TestDeregisterBounded: with the agent black-holed, Deregister with a
// context that never ends returns within the request timeout, a concurrent
// Deregister with a shorter deadline returns at that deadline rather than
// waiting for the first, and both errors say what becomes of the service.
// Once the agent answers again, Deregister removes the service.
func TestDeregisterBounded(t *testing.T) {
	t.Parallel()
	const reqTimeout = 700 * time.Millisecond
	const slack = 5 * time.Second // scheduling on a loaded machine, never a hang
	proxy := registrytest.StartProxy(t, agent.Addr())
	cfg := agent.Config()
	cfg.Address = proxy.Addr()
	cli, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	inst := kitresolver.Instance{ID: "bounded-1", Service: "greeter-bounded", Addr: "127.0.0.1:1"}
	claimID(t, agent.Client(), inst.ID)
	reg, err := consul.Register(timeoutCtx(t, testutil.DefaultTimeout), cli, inst, consul.WithTTLCheck(longTTL), consul.WithRequestTimeout(reqTimeout))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = agent.Client().Agent().ServiceDeregister(inst.ID) })
	proxy.Blackhole()

	type result struct {
		err  error
		took time.Duration
	}
	first, second := make(chan result, 1), make(chan result, 1)
	start := time.Now()
	go func() {
		err := reg.Deregister(context.Background())
		first <- result{err, time.Since(start)}
	}()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), reqTimeout/4)
		defer cancel()
		err := reg.Deregister(ctx)
		second <- result{err, time.Since(start)}
	}()
	for _, c := range []struct {
		name  string
		ch    chan result
		bound time.Duration
	}{{"short deadline", second, reqTimeout / 4}, {"background", first, reqTimeout}} {
		select {
		case res := <-c.ch:
			if res.err == nil || !strings.Contains(res.err.Error(), "the agent keeps it until its check has been critical") {
				t.Fatalf("Deregister (%s) = %v, want an error saying what becomes of the service", c.name, res.err)
			}
			if !errors.Is(res.err, context.DeadlineExceeded) {
				t.Errorf("Deregister (%s) = %v, want it to wrap context.DeadlineExceeded", c.name, res.err)
			}
			if res.took > c.bound+slack {
				t.Fatalf("Deregister (%s) returned after %v, want about %v", c.name, res.took, c.bound)
			}
		case <-time.After(c.bound + testutil.DefaultTimeout):
			t.Fatalf("Deregister (%s) did not return", c.name)
		}
	}
	proxy.Resume()
	if err := reg.Deregister(timeoutCtx(t, testutil.DefaultTimeout)); err != nil {
		t.Fatalf("Deregister after the agent came back: %v", err)
	}
	if _, _, err := agent.Client().Agent().Service(inst.ID, nil); !isNotFoundErr(err) {
		t.Fatalf("the agent still holds %s after Deregister (%v)", inst.ID, err)
	}
}

func isNotFoundErr(err error) bool {
	var se api.StatusError
	return errors.As(err, &se) && se.Code == 404
}

// TestDrainBounded: with the agent black-holed, Drain with a context that
// never ends returns within its bound, two check periods plus two request
// timeouts, with an error.
func TestDrainBounded(t *testing.T) {
	t.Parallel()
	const ttl, reqTimeout = 600 * time.Millisecond, 500 * time.Millisecond
	const bound = 2*ttl/3 + 2*reqTimeout
	const slack = 5 * time.Second // scheduling on a loaded machine, never a hang
	proxy := registrytest.StartProxy(t, agent.Addr())
	cfg := agent.Config()
	cfg.Address = proxy.Addr()
	cli, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	inst := kitresolver.Instance{ID: "bounded-drain", Service: "greeter-bounded", Addr: "127.0.0.1:1"}
	claimID(t, agent.Client(), inst.ID)
	reg, err := consul.Register(timeoutCtx(t, testutil.DefaultTimeout), cli, inst, consul.WithTTLCheck(ttl), consul.WithRequestTimeout(reqTimeout))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = agent.Client().Agent().ServiceDeregister(inst.ID)
		proxy.Resume()
		_ = reg.Deregister(timeoutCtx(t, testutil.DefaultTimeout))
	})
	proxy.Blackhole()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- reg.Drain(context.Background(), nil) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Drain through a black-holed agent succeeded")
		}
		if took := time.Since(start); took > bound+slack {
			t.Fatalf("Drain returned after %v, want about %v", took, bound)
		}
	case <-time.After(bound + testutil.DefaultTimeout):
		t.Fatal("Drain did not return")
	}
}

func TestRequestTimeoutOption(t *testing.T) {
	t.Parallel()
	inst := kitresolver.Instance{ID: "x", Service: "greeter-bounded", Addr: "127.0.0.1:1"}
	claimID(t, agent.Client(), inst.ID)
	_, err := consul.Register(timeoutCtx(t, testutil.DefaultTimeout), agent.Client(), inst, consul.WithRequestTimeout(0))
	if err == nil || !strings.HasPrefix(err.Error(), "consul: WithRequestTimeout(0s)") {
		t.Fatalf("Register(WithRequestTimeout(0)) = %v, want the option named", err)
	}
}

// TestRegisterBounded: with the agent black-holed, Register with a context
// that never ends returns within twice the request timeout (the attempt, then
// the removal of what it may have left), with an error saying so.
func TestRegisterBounded(t *testing.T) {
	t.Parallel()
	const reqTimeout = 500 * time.Millisecond
	const slack = 5 * time.Second // scheduling on a loaded machine, never a hang
	proxy := registrytest.StartProxy(t, agent.Addr())
	proxy.Blackhole()
	cfg := agent.Config()
	cfg.Address = proxy.Addr()
	cli, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	inst := kitresolver.Instance{ID: "bounded-register", Service: "greeter-bounded", Addr: "127.0.0.1:1"}
	claimID(t, agent.Client(), inst.ID)
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := consul.Register(context.Background(), cli, inst, consul.WithRequestTimeout(reqTimeout))
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "removing it again failed") {
			t.Fatalf("Register through a black-holed agent = %v, want an error saying the removal failed too", err)
		}
		if took := time.Since(start); took > 2*reqTimeout+slack {
			t.Fatalf("Register returned after %v, want about %v", took, 2*reqTimeout)
		}
	case <-time.After(2*reqTimeout + testutil.DefaultTimeout):
		t.Fatal("Register did not return")
	}
}

// TestDrainWithSubSecondInterval: Consul runs checks no more often than once
// a second, whatever interval they ask for, so Drain's wait counts two
// periods of at least a second: a server registered with a 100 ms interval
// and a short request timeout still drains.
func TestDrainWithSubSecondInterval(t *testing.T) {
	t.Parallel()
	cli := agent.Client()
	b := startBackend(t, cli, "greeter-subsecond", "subsecond", consul.WithCheckInterval(100*time.Millisecond), consul.WithRequestTimeout(500*time.Millisecond))
	waitCheck(t, cli, "service:"+b.reg.ID(), api.HealthPassing, "grpc")
	if err := b.reg.Drain(timeoutCtx(t, testutil.DefaultTimeout), b.Health); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if services, err := cli.Agent().Services(); err != nil || services[b.reg.ID()] != nil {
		t.Fatalf("after Drain the agent still holds %s (%v)", b.reg.ID(), err)
	}
}
