package consul_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/grpckit/grpckit/internal/testutil"
	"github.com/grpckit/grpckit/registrytest"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/consul"
)

// TestChaos loops, for a bounded number of rounds, over registry faults (the
// agent killed and restarted empty, the resolver's path black-holed, paused
// or cut) with registrations coming and going, some of them deregistered
// during the fault. After every fault it checks that the agent holds exactly
// the live registrations and the resolver publishes exactly those, within a
// bound, and that every Deregister returned within its request timeout.
func TestChaos(t *testing.T) {
	t.Parallel()
	const (
		service    = "greeter-chaos"
		rounds     = 8
		ttl        = 1500 * time.Millisecond // registrars talk to the agent every 500 ms
		reqTimeout = 500 * time.Millisecond
		converge   = 2 * time.Second // the requirement
		slack      = 3 * time.Second // scheduling on a loaded machine
	)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	a := registrytest.StartConsul(t)
	proxy := registrytest.StartProxy(t, a.Addr())
	live := map[string]*consul.Registration{}
	t.Cleanup(func() {
		for _, r := range live {
			_ = r.Deregister(timeoutCtx(t, testutil.DefaultTimeout))
		}
	})
	b := consul.NewBuilder(consul.WithRecoveryGrace(time.Second), consul.WithMinQueryInterval(20*time.Millisecond),
		consul.WithBackoff(kitresolver.Backoff{Base: 20 * time.Millisecond, Max: 200 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2}))
	cc := buildResolver(t, b, "consul://"+proxy.Addr()+"/"+service)

	next := 0
	register := func() {
		id := fmt.Sprintf("chaos-%d", next)
		claimID(t, a.Client(), id)
		inst := kitresolver.Instance{ID: id, Service: service, Addr: fmt.Sprintf("127.0.0.1:%d", 7600+next)}
		next++
		r, err := consul.Register(timeoutCtx(t, testutil.DefaultTimeout), a.Client(), inst, consul.WithTTLCheck(ttl), consul.WithRequestTimeout(reqTimeout))
		if err != nil {
			t.Fatalf("Register(%s) with the agent up: %v", id, err)
		}
		live[id] = r
	}
	deregister := func(agentUp bool) {
		if len(live) == 0 {
			return
		}
		id := slices.Sorted(maps.Keys(live))[rng.IntN(len(live))]
		start := time.Now()
		err := live[id].Deregister(context.Background())
		if d := time.Since(start); d > reqTimeout+slack {
			t.Errorf("Deregister(%s) took %v, want within its %v request timeout", id, d, reqTimeout)
		}
		if agentUp && err != nil {
			t.Errorf("Deregister(%s) with the agent up: %v", id, err)
		}
		delete(live, id) // a dev agent restarts empty, so a failed one is gone too
	}
	register()
	register()
	var worst time.Duration
	for round := range rounds {
		for range 1 + rng.IntN(3) {
			if rng.IntN(3) > 0 || len(live) == 0 {
				register()
			} else {
				deregister(true)
			}
		}
		fault := rng.IntN(4)
		down := time.Duration(200+rng.IntN(1300)) * time.Millisecond
		switch fault {
		case 0:
			a.Stop()
			deregister(false)
		case 1:
			proxy.Blackhole()
		case 2:
			proxy.Pause()
		case 3:
			proxy.DropAll()
		}
		time.Sleep(down)
		if fault == 0 {
			if err := a.Start(); err != nil {
				t.Fatal(err)
			}
		} else {
			proxy.Resume()
		}
		healed := time.Now()
		want := slices.Sorted(maps.Keys(live))
		if d := waitConverged(t, a, cc, service, want, converge+slack); d > worst {
			worst = d
		}
		t.Logf("round %d: fault %d for %v, %d live, converged in %v", round, fault, down, len(want), time.Since(healed).Round(time.Millisecond))
	}
	t.Logf("worst convergence %v", worst)
}

// waitConverged waits until the agent lists exactly want as passing
// instances of service and the resolver's last state holds exactly them,
// and returns how long that took; it fails the test after bound.
func waitConverged(t *testing.T, a *registrytest.ConsulAgent, cc *testutil.ResolverClientConn, service string, want []string, bound time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var agentIDs, published []string
	for time.Since(start) < bound {
		agentIDs = agentIDs[:0]
		if entries, _, err := a.Client().Health().Service(service, "", true, nil); err == nil {
			for _, e := range entries {
				agentIDs = append(agentIDs, e.Service.ID)
			}
		}
		slices.Sort(agentIDs)
		published = published[:0]
		if s, ok := cc.LastState(); ok {
			for _, inst := range instances(s) {
				published = append(published, inst.ID)
			}
		}
		slices.Sort(published)
		if slices.Equal(agentIDs, want) && slices.Equal(published, want) {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("not converged %v after the fault healed: agent holds %v, resolver publishes %v, want %v", bound, agentIDs, published, want)
	return 0
}
