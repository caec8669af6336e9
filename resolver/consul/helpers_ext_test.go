package consul_test

import (
	"context"
	"maps"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/internal/greeter"
	"github.com/grpckit/grpckit/internal/testutil"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/consul"
)

// testInterval is the check interval of the tests' registrations; Consul
// runs checks no more often than once a second.
const testInterval = time.Second

func timeoutCtx(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// claimedIDs maps "agent node ID/service ID" to the test that registered
// it. A Consul service ID belongs to the agent, not to a service: a parallel
// test registering the same ID, even for another service, replaces the
// first registration, and the first test's channels are left with nothing.
var claimedIDs sync.Map

// claimID fails the test if another test registered id with cli's agent.
func claimID(t testing.TB, cli *api.Client, id string) {
	t.Helper()
	self, err := cli.Agent().Self()
	if err != nil {
		t.Fatalf("asking the agent who it is: %v", err)
	}
	node, _ := self["Config"]["NodeID"].(string)
	if node == "" {
		t.Fatalf("the agent reported no node ID: %v", self["Config"])
	}
	if prev, loaded := claimedIDs.LoadOrStore(node+"/"+id, t.Name()); loaded && prev != t.Name() {
		t.Fatalf("service ID %q is registered on this agent by %s too: the agent keeps one registration per ID, so each test needs IDs of its own", id, prev)
	}
}

// backend is a greeter server registered in Consul.
type backend struct {
	*greeter.Running
	reg *consul.Registration
}

// startBackend serves a greeter answering as id and registers it as service
// with cli, with a 1 s gRPC check. It is deregistered and stopped at cleanup.
func startBackend(t testing.TB, cli *api.Client, service, id string, opts ...consul.RegisterOption) *backend {
	t.Helper()
	claimID(t, cli, id)
	r := greeter.Start(t, kitresolver.Instance{Service: service, ID: id})
	opts = append([]consul.RegisterOption{consul.WithCheckInterval(testInterval)}, opts...)
	reg, err := consul.Register(timeoutCtx(t, testutil.DefaultTimeout), cli, r.Instance(), opts...)
	if err != nil {
		t.Fatalf("Register(%s): %v", id, err)
	}
	t.Cleanup(func() {
		if err := reg.Deregister(timeoutCtx(t, testutil.DefaultTimeout)); err != nil {
			t.Errorf("Deregister(%s): %v", id, err)
		}
	})
	return &backend{Running: r, reg: reg}
}

// target returns a consul:// target for service on the shared agent.
func target(service string, query ...string) string {
	t := "consul://" + agent.Addr() + "/" + service
	if len(query) > 0 {
		t += "?" + query[0]
	}
	return t
}

// dial returns a round-robin greeter client of target.
func dial(t testing.TB, target string, b resolver.Builder, opts ...grpc.DialOption) (greeterv1.GreeterClient, *grpc.ClientConn) {
	t.Helper()
	opts = append([]grpc.DialOption{
		grpc.WithResolvers(b),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`),
	}, opts...)
	cc, err := grpc.NewClient(target, opts...)
	if err != nil {
		t.Fatalf("NewClient(%s): %v", target, err)
	}
	t.Cleanup(func() { cc.Close() })
	return greeterv1.NewGreeterClient(cc), cc
}

// hello sends one RPC and returns the answering instance's ID.
func hello(ctx context.Context, c greeterv1.GreeterClient) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := c.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "t"})
	if err != nil {
		return "", err
	}
	return resp.GetGreeting().GetInstanceId(), nil
}

// waitServedBy sends batches of RPCs until one batch is answered by exactly
// the instances in want, and fails the test at the deadline.
func waitServedBy(t testing.TB, c greeterv1.GreeterClient, want ...string) {
	t.Helper()
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	slices.Sort(want)
	var got []string
	var lastErr error
	for ctx.Err() == nil {
		seen := map[string]bool{}
		for range 3*len(want) + 6 {
			id, err := hello(ctx, c)
			if err != nil {
				lastErr = err
				continue
			}
			seen[id] = true
		}
		got = slices.Sorted(maps.Keys(seen))
		if slices.Equal(got, want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("RPCs answered by %v, want %v (last error: %v)", got, want, lastErr)
}

// buildResolver builds a resolver for target on a fake ClientConn.
func buildResolver(t testing.TB, b resolver.Builder, target string) *testutil.ResolverClientConn {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	cc := testutil.NewResolverClientConn()
	r, err := b.Build(resolver.Target{URL: *u}, cc, resolver.BuildOptions{})
	if err != nil {
		t.Fatalf("Build(%s): %v", target, err)
	}
	t.Cleanup(r.Close)
	return cc
}

// waitState receives states until one satisfies ok.
func waitState(t testing.TB, cc *testutil.ResolverClientConn, ok func(resolver.State) bool) resolver.State {
	t.Helper()
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	for {
		s, err := cc.States.Receive(ctx)
		if err != nil {
			last, _ := cc.LastState()
			t.Fatalf("no matching resolver state: %v; last state: %v", err, last)
		}
		if ok(s) {
			return s
		}
	}
}

// instances returns the Instances of a state's endpoints.
func instances(s resolver.State) []kitresolver.Instance {
	var out []kitresolver.Instance
	for _, ep := range s.Endpoints {
		inst, _ := kitresolver.InstanceFrom(ep)
		out = append(out, inst)
	}
	return out
}

// countingBuilder counts the resolvers its builder builds.
type countingBuilder struct {
	resolver.Builder
	builds atomic.Int32
}

func (b *countingBuilder) Build(t resolver.Target, cc resolver.ClientConn, o resolver.BuildOptions) (resolver.Resolver, error) {
	b.builds.Add(1)
	return b.Builder.Build(t, cc, o)
}
