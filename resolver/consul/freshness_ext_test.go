package consul_test

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/internal/greeter"
	"github.com/grpckit/grpckit/internal/testutil"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/consul"
)

// registerPlain registers reg with no check, so Consul serves it as passing
// the moment the call returns, and deregisters it at cleanup.
func registerPlain(t testing.TB, cli *api.Client, reg *api.AgentServiceRegistration) {
	t.Helper()
	claimID(t, cli, reg.ID)
	if err := cli.Agent().ServiceRegister(reg); err != nil {
		t.Fatalf("ServiceRegister(%s): %v", reg.ID, err)
	}
	t.Cleanup(func() { cli.Agent().ServiceDeregister(reg.ID) })
}

// plainRegistration describes a running greeter to Consul, with no check.
func plainRegistration(t testing.TB, r *greeter.Running) *api.AgentServiceRegistration {
	t.Helper()
	inst := r.Instance()
	host, port, err := net.SplitHostPort(inst.Addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return &api.AgentServiceRegistration{ID: inst.ID, Name: inst.Service, Address: host, Port: p}
}

// timeToAnswer registers a fresh greeter as id of service and returns the
// time from the registration to the first RPC c sees answered by it.
func timeToAnswer(t *testing.T, c greeterv1.GreeterClient, service, id string) time.Duration {
	t.Helper()
	r := greeter.Start(t, kitresolver.Instance{Service: service, ID: id})
	reg := plainRegistration(t, r)
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	start := time.Now()
	registerPlain(t, agent.Client(), reg)
	for ctx.Err() == nil {
		if got, err := hello(ctx, c); err == nil && got == id {
			return time.Since(start)
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%s never answered after its registration", id)
	return 0
}

// waitEmpty waits until c's RPCs fail: the channel holds no instance.
func waitEmpty(t *testing.T, c greeterv1.GreeterClient) {
	t.Helper()
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	for ctx.Err() == nil {
		if _, err := hello(ctx, c); err != nil {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("RPCs still succeed after the last instance was deregistered")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestComebackAfterEmptyIsNotLate: the first instance registered after a
// service went empty answers RPCs as soon as an instance added beside a live
// one does. The balancer rejects an empty set (ErrBadResolverState); that
// must not send the resolver into its error backoff. The backoff is made
// slow here so that every round would pay it; medians of interleaved rounds
// keep a loaded machine from deciding the outcome.
func TestComebackAfterEmptyIsNotLate(t *testing.T) {
	t.Parallel()
	const rounds = 5
	b := consul.NewBuilder(consul.WithBackoff(kitresolver.Backoff{Base: time.Second, Max: time.Second, Multiplier: 1}))
	emptyC, _ := dial(t, target("fresh-empty"), b)
	fullC, _ := dial(t, target("fresh-full"), b)
	base := greeter.Start(t, kitresolver.Instance{Service: "fresh-full", ID: "base"})
	registerPlain(t, agent.Client(), plainRegistration(t, base))
	waitServedBy(t, fullC, "base")
	waitEmpty(t, emptyC)

	var afterEmpty, beside []time.Duration
	for i := range rounds {
		id := fmt.Sprintf("fresh-e%d", i)
		afterEmpty = append(afterEmpty, timeToAnswer(t, emptyC, "fresh-empty", id))
		if err := agent.Client().Agent().ServiceDeregister(id); err != nil {
			t.Fatal(err)
		}
		waitEmpty(t, emptyC)
		id = fmt.Sprintf("fresh-n%d", i)
		beside = append(beside, timeToAnswer(t, fullC, "fresh-full", id))
		if err := agent.Client().Agent().ServiceDeregister(id); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("registration to first answer: after an empty period %v, beside a live instance %v", afterEmpty, beside)
	if e, n := median(afterEmpty), median(beside); e > n+100*time.Millisecond {
		t.Fatalf("after an empty period the first instance answered after %v (median), beside a live one after %v: want at most 100ms more", e, n)
	}
}

// TestHugeWeightIsCapped: Consul allows weights up to 65535; the instance is
// served with kitresolver.MaxWeight, not dropped, and the cap is logged once
// while it lasts.
func TestHugeWeightIsCapped(t *testing.T) {
	t.Parallel()
	const svc = "greeter-heavy"
	reg := &api.AgentServiceRegistration{ID: "heavy-1", Name: svc, Address: "127.0.0.1", Port: 7101,
		Weights: &api.AgentWeights{Passing: 65535, Warning: 1}}
	registerPlain(t, agent.Client(), reg)
	cc := buildResolver(t, consul.NewBuilder(), target(svc))
	s := waitState(t, cc, func(s resolver.State) bool { return len(s.Endpoints) == 1 })
	if w := kitresolver.WeightOf(s.Endpoints[0]); w != kitresolver.MaxWeight {
		t.Fatalf("weight %d, want it capped at %d", w, kitresolver.MaxWeight)
	}
	const line = `service instance "heavy-1": weight 65535 capped at 10000`
	logged := strings.Count(logs.String(), line)
	if logged == 0 {
		t.Fatalf("the cap was not logged: want %q", line)
	}
	// Another answer for the same service does not log the cap again.
	registerPlain(t, agent.Client(), &api.AgentServiceRegistration{ID: "heavy-2", Name: svc, Address: "127.0.0.1", Port: 7102})
	waitState(t, cc, func(s resolver.State) bool { return len(s.Endpoints) == 2 })
	if n := strings.Count(logs.String(), line); n != logged {
		t.Fatalf("%q logged again for the next answer", line)
	}
}

// TestNearKeepsConsulOrder: with ?near=_agent the endpoints come in the order
// Consul answers (nearest first), not sorted by address; without near they
// are sorted by address.
func TestNearKeepsConsulOrder(t *testing.T) {
	t.Parallel()
	const svc = "greeter-near"
	// IDs ascending, ports descending: Consul's order is not the address order.
	for i, id := range []string{"near-a", "near-b", "near-c"} {
		registerPlain(t, agent.Client(), &api.AgentServiceRegistration{ID: id, Name: svc, Address: "127.0.0.1", Port: 7203 - i})
	}
	entries, _, err := agent.Client().Health().Service(svc, "", true, (&api.QueryOptions{Near: "_agent"}).WithContext(timeoutCtx(t, testutil.DefaultTimeout)))
	if err != nil {
		t.Fatal(err)
	}
	var consulOrder []string
	for _, e := range entries {
		consulOrder = append(consulOrder, net.JoinHostPort(e.Service.Address, strconv.Itoa(e.Service.Port)))
	}
	sorted := slices.Sorted(slices.Values(consulOrder))
	if len(consulOrder) != 3 || slices.Equal(consulOrder, sorted) {
		t.Fatalf("Consul answered %v: the test needs three instances out of address order", consulOrder)
	}
	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"near=_agent", consulOrder},
		{"", sorted},
	} {
		cc := buildResolver(t, consul.NewBuilder(), target(svc, tt.query))
		s := waitState(t, cc, func(s resolver.State) bool { return len(s.Endpoints) == 3 })
		var got []string
		for _, ep := range s.Endpoints {
			got = append(got, ep.Addresses[0].Addr)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("?%s: endpoints %v, want %v", tt.query, got, tt.want)
		}
	}
}

// TestHostPortAddressIsSkipped: a service registered with a port in its
// Address ("127.0.0.1:7201", a common mistake Consul accepts) makes no
// endpoint that could never be dialed: it is skipped with a log line naming
// it, and the other instances are served.
func TestHostPortAddressIsSkipped(t *testing.T) {
	t.Parallel()
	const svc = "greeter-hostport"
	registerPlain(t, agent.Client(), &api.AgentServiceRegistration{ID: "hostport-bad", Name: svc, Address: "127.0.0.1:7201", Port: 7202})
	registerPlain(t, agent.Client(), &api.AgentServiceRegistration{ID: "hostport-ok", Name: svc, Address: "127.0.0.1", Port: 7203})
	cc := buildResolver(t, consul.NewBuilder(), target(svc))
	s := waitState(t, cc, func(s resolver.State) bool { return len(s.Endpoints) > 0 })
	if got := instances(s); len(got) != 1 || got[0].ID != "hostport-ok" {
		t.Fatalf("served %v, want only hostport-ok", got)
	}
	if line := `service instance "hostport-bad": skipped`; !strings.Contains(logs.String(), line) {
		t.Fatalf("the skipped instance was not logged: want %q", line)
	}
}
