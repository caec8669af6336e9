package debugz_test

import (
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/balancer/lbconfig"
	"github.com/grpckit/grpckit/debugz"
	"github.com/grpckit/grpckit/internal/greeter"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// downRegistry is a resolver whose registry never answers: its Publisher
// serves the target's snapshot once the grace has passed, as grpckit's
// resolvers do during a registry outage at start.
type downRegistry struct{ dir string }

func (d downRegistry) Scheme() string { return "down" }

func (d downRegistry) Build(t resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	snap, err := kitresolver.NewSnapshot(d.dir, t.String())
	if err != nil {
		return nil, err
	}
	return downResolver{kitresolver.NewPublisher(cc, snap)}, nil
}

type downResolver struct{ pub *kitresolver.Publisher }

func (downResolver) ResolveNow(resolver.ResolveNowOptions) {}
func (r downResolver) Close()                              { r.pub.Close() }

// TestStaleSnapshot: during a registry outage the page shows the snapshot's
// instances as stale, and the channel's endpoints from it, with
// endpointsharding's per-endpoint states for a round_robin child.
func TestStaleSnapshot(t *testing.T) {
	g := greeter.Start(t, kitresolver.Instance{ID: "g1", Service: "greeter", Zone: "eu-1a"})
	dir := t.TempDir()
	snap, err := kitresolver.NewSnapshot(dir, "down:///greeter")
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Save([]kitresolver.Instance{g.Instance()}); err != nil {
		t.Fatal(err)
	}
	p := debugz.New(debugz.WithRefresh(time.Second))
	lb := lbconfig.Must(debugz.Policy(lbconfig.RoundRobin()))
	cc, err := grpc.NewClient("down:///greeter", grpc.WithResolvers(p.Builder(downRegistry{dir})), lb.DialOption(),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cc.Connect()
	waitFor(t, "the snapshot served", func() bool {
		rs := p.Report().Resolvers
		return len(rs) == 1 && rs[0].Updates > 0
	})
	if err := sayHello(t.Context(), cc); err != nil {
		t.Fatalf("call on the snapshot: %v", err)
	}
	rep := report(t, p)
	rv := rep.Resolvers[0]
	if !rv.Stale || len(rv.Instances) != 1 || rv.Instances[0].ID != "g1" || rv.Instances[0].Zone != "eu-1a" {
		t.Errorf("resolver %+v", rv)
	}
	bv := oneBalancer(t, rep)
	ep := endpointOf(t, bv, g.Addr)
	if bv.ChildPolicy != "round_robin" || ep.State != "READY" || ep.ChildState != "READY" || ep.Picks != 1 || ep.Share != 1 {
		t.Errorf("balancer %+v", bv)
	}
	text := pageText(t, p)
	if !contains(text, "stale: served from a snapshot") {
		t.Errorf("page does not say stale:\n%s", text)
	}
}
