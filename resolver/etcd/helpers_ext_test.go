package etcd_test

import (
	"context"
	"net/url"
	"slices"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/internal/greeter"
	"github.com/grpckit/grpckit/internal/testutil"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/etcd"
)

// fastBackoff keeps retries quick so fault tests finish in seconds.
var fastBackoff = kitresolver.Backoff{Base: 50 * time.Millisecond, Max: 300 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2}

func timeoutCtx(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newClient returns an etcd client configured as doc.go recommends: keepalive
// to notice a black-holed member, quick reconnection after an outage.
func newClient(t testing.TB, endpoints ...string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            endpoints,
		DialTimeout:          5 * time.Second,
		DialKeepAliveTime:    5 * time.Second, // etcd refuses pings more often than every 5 s
		DialKeepAliveTimeout: 2 * time.Second,
		Logger:               zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 300 * time.Millisecond},
			MinConnectTimeout: time.Second,
		})},
	})
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// startGreeter serves a greeter and registers it; Deregister runs at cleanup.
func startGreeter(t testing.TB, cli *clientv3.Client, service string, opts ...etcd.RegisterOption) (*greeter.Running, *etcd.Registration) {
	t.Helper()
	g := greeter.Start(t, kitresolver.Instance{Service: service})
	reg := register(t, cli, g.Server.Instance(), opts...)
	return g, reg
}

func register(t testing.TB, cli *clientv3.Client, inst kitresolver.Instance, opts ...etcd.RegisterOption) *etcd.Registration {
	t.Helper()
	reg, err := etcd.Register(timeoutCtx(t, testutil.DefaultTimeout), cli, inst, opts...)
	if err != nil {
		t.Fatalf("Register(%v): %v", inst, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
		defer cancel()
		reg.Deregister(ctx)
	})
	return reg
}

// dial returns a round-robin greeter client of target resolved by b.
func dial(t testing.TB, target string, b resolver.Builder, opts ...grpc.DialOption) (greeterv1.GreeterClient, *grpc.ClientConn) {
	t.Helper()
	opts = append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithResolvers(b),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`),
	}, opts...)
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		t.Fatalf("grpc.NewClient(%q): %v", target, err)
	}
	t.Cleanup(func() { conn.Close() })
	return greeterv1.NewGreeterClient(conn), conn
}

// hello makes one call with a short deadline and returns the answering id.
func hello(ctx context.Context, c greeterv1.GreeterClient, opts ...grpc.CallOption) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := c.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "test"}, opts...)
	if err != nil {
		return "", err
	}
	return resp.GetGreeting().GetInstanceId(), nil
}

// waitServedBy polls until a round of calls is answered by exactly the ids
// in want, and fails the test at the deadline.
func waitServedBy(t testing.TB, c greeterv1.GreeterClient, want ...string) {
	t.Helper()
	slices.Sort(want)
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	var got []string
	for ctx.Err() == nil {
		got = servedBy(ctx, c, 4*len(want)+4)
		if slices.Equal(got, want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("served by %v, want %v", got, want)
}

// servedBy makes n calls and returns the sorted distinct ids that answered;
// a failed call shows as "error".
func servedBy(ctx context.Context, c greeterv1.GreeterClient, n int) []string {
	var ids []string
	for range n {
		id, err := hello(ctx, c)
		if err != nil {
			id = "error"
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// buildResolver builds b's resolver for target on a fake ClientConn.
func buildResolver(t testing.TB, b resolver.Builder, target string) (*testutil.ResolverClientConn, resolver.Resolver) {
	t.Helper()
	cc := testutil.NewResolverClientConn()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("url.Parse(%q): %v", target, err)
	}
	r, err := b.Build(resolver.Target{URL: *u}, cc, resolver.BuildOptions{})
	if err != nil {
		t.Fatalf("Build(%q): %v", target, err)
	}
	t.Cleanup(r.Close)
	return cc, r
}

// waitState polls the fake until its newest state satisfies ok.
func waitState(t testing.TB, cc *testutil.ResolverClientConn, ok func([]kitresolver.Instance) bool) []kitresolver.Instance {
	t.Helper()
	return waitStateWithin(t, cc, testutil.DefaultTimeout, ok)
}

// waitStateWithin is waitState with its own deadline.
func waitStateWithin(t testing.TB, cc *testutil.ResolverClientConn, d time.Duration, ok func([]kitresolver.Instance) bool) []kitresolver.Instance {
	t.Helper()
	ctx := timeoutCtx(t, d)
	var last []kitresolver.Instance
	for {
		if s, have := cc.LastState(); have {
			last = instances(s)
			if ok(last) {
				return last
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no state matched before the deadline; last %v", last)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// instances returns the Instances a state carries, in endpoint order.
func instances(s resolver.State) []kitresolver.Instance {
	out := make([]kitresolver.Instance, 0, len(s.Endpoints))
	for _, ep := range s.Endpoints {
		inst, _ := kitresolver.InstanceFrom(ep)
		out = append(out, inst)
	}
	return out
}

// ids returns the sorted ids of insts.
func ids(insts []kitresolver.Instance) []string {
	out := make([]string, 0, len(insts))
	for _, inst := range insts {
		out = append(out, inst.ID)
	}
	slices.Sort(out)
	return out
}

func hasIDs(want ...string) func([]kitresolver.Instance) bool {
	slices.Sort(want)
	return func(insts []kitresolver.Instance) bool { return slices.Equal(ids(insts), want) }
}
