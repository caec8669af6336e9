package consul_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grpckit/grpckit/registrytest"
	"github.com/grpckit/grpckit/resolver/consul"
)

// agentOutage is how long the agent stays down, as the issue names it.
const agentOutage = 30 * time.Second

// TestAgentOutage: the agent is killed for 30 s while a client sends RPCs;
// no RPC fails, and once the (dev) agent restarts empty every instance is
// registered again within two check intervals and served again.
func TestAgentOutage(t *testing.T) {
	t.Parallel()
	a := registrytest.StartConsul(t)
	cli := a.Client()
	ids := []string{"o1", "o2", "o3"}
	var regIDs []string
	for _, id := range ids {
		regIDs = append(regIDs, startBackend(t, cli, "greeter-outage", id).reg.ID())
	}
	c, _ := dial(t, "consul://"+a.Addr()+"/greeter-outage", consul.NewBuilder())
	waitServedBy(t, c, ids...)

	var ok, failed atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			if _, err := hello(ctx, c); err == nil {
				ok.Add(1)
			} else if ctx.Err() == nil {
				failed.Add(1)
				t.Errorf("RPC failed: %v", err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	defer func() { cancel(); wg.Wait() }()

	a.Stop()
	before := ok.Load()
	<-time.After(agentOutage)
	if served := ok.Load() - before; served == 0 {
		t.Fatal("no RPC succeeded while the agent was down")
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	waitService(t, cli, regIDs...)
	if d := time.Since(restarted); d > 2*testInterval {
		t.Errorf("instances registered again %v after the agent restarted, want within two check intervals", d)
	}
	waitServedBy(t, c, ids...)
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d RPCs failed across the outage, want 0", n)
	}
}
