package debugz_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/balancer/lbconfig"
	"github.com/grpckit/grpckit/debugz"
	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	"github.com/grpckit/grpckit/registrytest"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/etcd"
)

// TestEtcdOutage runs the page against a real etcd that stops: a channel
// opened during the outage serves the snapshot, which the page shows stale,
// and one without a snapshot shows the resolver's error; when etcd is back
// the stale set is replaced by the registry's answer.
func TestEtcdOutage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cluster := registrytest.StartEtcd(t)
	cli := cluster.Client(t)
	g := greeter.Start(t, kitresolver.Instance{ID: "g1", Service: "greeter", Zone: "eu-1a", Version: "2.0"})
	reg, err := etcd.Register(ctx, cli, g.Instance())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer dcancel()
		reg.Deregister(dctx)
	}()
	p := debugz.New()
	dir := t.TempDir()
	dial := func(opts ...etcd.Option) *grpc.ClientConn {
		t.Helper()
		opts = append(opts, etcd.WithRequestTimeout(500*time.Millisecond))
		cc, err := grpc.NewClient("etcd:///greeter", grpc.WithResolvers(p.Builder(etcd.NewBuilder(cli, opts...))),
			lbconfig.Must(debugz.Policy(lbconfig.RoundRobin())).DialOption(),
			grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		cc.Connect()
		return cc
	}
	resolverOf := func(id uint64) (debugz.ResolverView, bool) {
		for _, r := range p.Report().Resolvers {
			if r.ID == id {
				return r, true
			}
		}
		return debugz.ResolverView{}, false
	}
	newest := func() uint64 {
		var id uint64
		for _, r := range p.Report().Resolvers {
			id = max(id, r.ID)
		}
		return id
	}

	// etcd up: the registry's answer, saved as the snapshot.
	cc := dial(etcd.WithSnapshotDir(dir))
	if err := sayHello(ctx, cc); err != nil {
		t.Fatal(err)
	}
	rv, _ := resolverOf(newest())
	if rv.Stale || len(rv.Instances) != 1 || rv.Instances[0].Version != "2.0" {
		t.Fatalf("etcd up: %+v", rv)
	}
	cc.Close()

	// etcd down: the snapshot, stale; calls go on.
	cluster.StopAll()
	stale := dial(etcd.WithSnapshotDir(dir))
	defer stale.Close()
	staleID := newest()
	waitFor(t, "the snapshot served stale", func() bool {
		rv, _ := resolverOf(staleID)
		return rv.Stale && len(rv.Instances) == 1 && rv.Instances[0].ID == "g1"
	})
	if err := sayHello(ctx, stale); err != nil {
		t.Fatalf("call on the snapshot during the outage: %v", err)
	}
	// Without a snapshot: the resolver's error.
	bare := dial()
	defer bare.Close()
	bareID := newest()
	waitFor(t, "the resolver's error", func() bool {
		rv, _ := resolverOf(bareID)
		return rv.Errors > 0 && strings.HasPrefix(rv.LastError, "etcd: ")
	})
	// Its calls fail at once, Unavailable, instead of waiting out their
	// deadline for a state that will not come.
	cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
	_, err = greeterv1.NewGreeterClient(bare).SayHello(cctx, &greeterv1.SayHelloRequest{Name: "x"})
	ccancel()
	if status.Code(err) != codes.Unavailable {
		t.Errorf("call without a snapshot during the outage: %v, want Unavailable", err)
	}
	text := pageText(t, p)
	for _, fact := range []string{"stale: served from a snapshot", "Last error"} {
		if !strings.Contains(text, fact) {
			t.Errorf("page text lacks %q:\n%s", fact, text)
		}
	}

	// etcd back: the registry's answer replaces the snapshot.
	if err := cluster.RestartAll(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the registry's answer after the outage", func() bool {
		rv, _ := resolverOf(staleID)
		return !rv.Stale && rv.Updates >= 2 && len(rv.Instances) == 1
	})
}
