package etcd_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.etcd.io/etcd/client/v3/naming/endpoints"
	etcdresolver "go.etcd.io/etcd/client/v3/naming/resolver"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/experimental/balancer/weight"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/internal/greeter"
	"github.com/grpckit/grpckit/internal/testutil"
	"github.com/grpckit/grpckit/registrytest"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/etcd"
)

func TestResolverServesRegisteredInstances(t *testing.T) {
	cluster := registrytest.StartEtcd(t)
	cli := newClient(t, cluster.Endpoints()...)
	var running []*greeter.Running
	var regs []*etcd.Registration
	for range 3 {
		g, reg := startGreeter(t, cli, "greeter")
		running, regs = append(running, g), append(regs, reg)
	}
	c, _ := dial(t, "etcd:///greeter", etcd.NewBuilder(cli))
	waitServedBy(t, c, running[0].Addr, running[1].Addr, running[2].Addr)

	// A new instance is used as soon as it is registered.
	added, _ := startGreeter(t, cli, "greeter")
	start := time.Now()
	waitServedBy(t, c, running[0].Addr, running[1].Addr, running[2].Addr, added.Addr)
	t.Logf("new instance served %v after Register", time.Since(start))

	// A deregistered instance stops receiving calls.
	if err := regs[0].Deregister(timeoutCtx(t, testutil.DefaultTimeout)); err != nil {
		t.Fatalf("Deregister: %v", err)
	}
	waitServedBy(t, c, running[1].Addr, running[2].Addr, added.Addr)
	calls := running[0].Calls()
	servedBy(timeoutCtx(t, testutil.DefaultTimeout), c, 30)
	if got := running[0].Calls(); got != calls {
		t.Fatalf("deregistered instance received %d more calls", got-calls)
	}
}

func TestResolverEmptyServiceFailsFast(t *testing.T) {
	cli := newClient(t, registrytest.StartEtcd(t).Endpoints()...)
	c, _ := dial(t, "etcd:///greeter", etcd.NewBuilder(cli))
	ctx := timeoutCtx(t, testutil.DefaultTimeout)

	assertFailsFast := func(when string) {
		t.Helper()
		start := time.Now()
		_, err := hello(ctx, c)
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("%s: call = %v, want Unavailable", when, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("%s: call failed after %v, want fast", when, d)
		}
	}
	assertFailsFast("no instance yet")

	_, reg := startGreeter(t, cli, "greeter")
	if _, err := hello(ctx, c, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("call after Register: %v", err)
	}
	if err := reg.Deregister(ctx); err != nil {
		t.Fatalf("Deregister: %v", err)
	}
	for ctx.Err() == nil {
		if _, err := hello(ctx, c); status.Code(err) == codes.Unavailable {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	assertFailsFast("last instance deregistered")
}

func TestResolverPublishesInstanceAttributes(t *testing.T) {
	cli := newClient(t, registrytest.StartEtcd(t).Endpoints()...)
	want := kitresolver.Instance{ID: "a", Service: "greeter", Addr: "127.0.0.1:7001", Weight: 7, Zone: "eu-1a", Version: "1.4.2", Metadata: map[string]string{"k": "v"}}
	register(t, cli, want)
	register(t, cli, kitresolver.Instance{Service: "greeter", Addr: "127.0.0.1:7000"})
	cc, _ := buildResolver(t, etcd.NewBuilder(cli), "etcd:///greeter")
	got := waitState(t, cc, func(insts []kitresolver.Instance) bool { return len(insts) == 2 })
	if diff := cmp.Diff(want, got[1]); diff != "" {
		t.Fatalf("published instance mismatch (-want +got):\n%s", diff)
	}
	s, _ := cc.LastState()
	if got := s.Endpoints[0].Addresses[0].Addr; got != "127.0.0.1:7000" {
		t.Fatalf("endpoints not sorted: first is %s", got)
	}
	if w := weight.FromEndpoint(s.Endpoints[1]).Weight; w != 7 {
		t.Fatalf("grpc-go weight attribute = %d, want 7", w)
	}
	if got[0].ID != "127.0.0.1:7000" {
		t.Fatalf("instance id = %q, want it to default to the address", got[0].ID)
	}
}

func TestResolverPrefixIsExact(t *testing.T) {
	cli := newClient(t, registrytest.StartEtcd(t).Endpoints()...)
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	register(t, cli, kitresolver.Instance{ID: "g", Service: "greeter", Addr: "127.0.0.1:1"})
	register(t, cli, kitresolver.Instance{ID: "g2", Service: "greeter2", Addr: "127.0.0.1:2"})
	if _, err := cli.Put(ctx, "/services/greeterX", "127.0.0.1:3"); err != nil {
		t.Fatal(err)
	}
	cc, _ := buildResolver(t, etcd.NewBuilder(cli), "etcd:///greeter")
	waitState(t, cc, hasIDs("g"))
	// An event under greeter2 must not reach greeter's resolver either.
	register(t, cli, kitresolver.Instance{ID: "g3", Service: "greeter2", Addr: "127.0.0.1:4"})
	register(t, cli, kitresolver.Instance{ID: "h", Service: "greeter", Addr: "127.0.0.1:5"})
	waitState(t, cc, hasIDs("g", "h"))
}

func TestResolverWithPrefix(t *testing.T) {
	cli := newClient(t, registrytest.StartEtcd(t).Endpoints()...)
	register(t, cli, kitresolver.Instance{ID: "a", Service: "greeter", Addr: "127.0.0.1:1"}, etcd.WithPrefix("/custom"))
	register(t, cli, kitresolver.Instance{ID: "b", Service: "greeter", Addr: "127.0.0.1:2"})
	cc, _ := buildResolver(t, etcd.NewBuilder(cli, etcd.WithPrefix("/custom/")), "etcd:///greeter")
	waitState(t, cc, hasIDs("a"))
}

func TestResolverSkipsBadValues(t *testing.T) {
	cli := newClient(t, registrytest.StartEtcd(t).Endpoints()...)
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	put := func(k, v string) {
		t.Helper()
		if _, err := cli.Put(ctx, "/services/greeter/"+k, v); err != nil {
			t.Fatal(err)
		}
	}
	put("good", `{"addr":"127.0.0.1:1","weight":2}`)
	put("plain", "127.0.0.1:2")
	put("broken", `{"addr":`)
	put("negative", `{"addr":"127.0.0.1:3","weight":-4}`)
	put("huge", `{"addr":"127.0.0.1:4","weight":99999999}`)
	put("noport", "127.0.0.1")
	put("nested/id", "127.0.0.1:5")
	put("dup", "127.0.0.1:1") // same address as "good": served once, by "dup" < "good"
	cc, _ := buildResolver(t, etcd.NewBuilder(cli), "etcd:///greeter")
	waitState(t, cc, hasIDs("dup", "plain"))

	// A good key overwritten with garbage keeps its instance; garbage that
	// arrives by watch removes nothing.
	put("plain", "garbage")
	put("other", `{"addr":""}`)
	put("late", "127.0.0.1:6")
	got := waitState(t, cc, hasIDs("dup", "late", "plain"))
	if got[1].ID != "plain" || got[1].Addr != "127.0.0.1:2" {
		t.Fatalf("second endpoint = %v, want plain at its last good address 127.0.0.1:2", got[1])
	}
	// Deleting the duplicate hands the address to "good".
	if _, err := cli.Delete(ctx, "/services/greeter/dup"); err != nil {
		t.Fatal(err)
	}
	waitState(t, cc, hasIDs("good", "late", "plain"))
}

func TestResolverReadsEtcdEndpointsManager(t *testing.T) {
	cli := newClient(t, registrytest.StartEtcd(t).Endpoints()...)
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	g := greeter.Start(t, kitresolver.Instance{Service: "greeter"})
	em, err := endpoints.NewManager(cli, "/services/greeter")
	if err != nil {
		t.Fatal(err)
	}
	if err := em.AddEndpoint(ctx, "/services/greeter/"+g.Server.Instance().ID, endpoints.Endpoint{Addr: g.Addr, Metadata: map[string]any{"zone": "z"}}); err != nil {
		t.Fatal(err)
	}
	c, _ := dial(t, "etcd:///greeter", etcd.NewBuilder(cli))
	waitServedBy(t, c, g.Addr)
}

// TestEtcdResolverReadsRegister shows the reverse interop: etcd's own
// resolver serves what Register wrote.
func TestEtcdResolverReadsRegister(t *testing.T) {
	cli := newClient(t, registrytest.StartEtcd(t).Endpoints()...)
	g, _ := startGreeter(t, cli, "greeter", etcd.WithTTL(5*time.Second))
	b, err := etcdresolver.NewBuilder(cli)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := dial(t, "etcd:////services/greeter", b)
	waitServedBy(t, c, g.Addr)
}

func TestBuildRejectsBadTarget(t *testing.T) {
	cli := newClient(t, registrytest.StartEtcd(t).Endpoints()...)
	b := etcd.NewBuilder(cli)
	cc, _ := buildResolver(t, b, "etcd://somehost/greeter")
	err, _ := cc.Errors.Receive(timeoutCtx(t, testutil.DefaultTimeout))
	if err == nil || !strings.Contains(err.Error(), `etcd: target "etcd://somehost/greeter" names host`) {
		t.Fatalf("ReportError got %v, want the target error", err)
	}

	c, _ := dial(t, "etcd:///a/b", b)
	_, err = hello(timeoutCtx(t, testutil.DefaultTimeout), c)
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "contains '/'") {
		t.Fatalf("call through a bad target = %v, want Unavailable naming the problem", err)
	}
}

func TestBuilderConfigErrorsReported(t *testing.T) {
	cc, _ := buildResolver(t, etcd.NewBuilder(nil), "etcd:///greeter")
	if err, _ := cc.Errors.Receive(timeoutCtx(t, testutil.DefaultTimeout)); err == nil || !strings.Contains(err.Error(), "nil client") {
		t.Fatalf("ReportError got %v, want the nil client error", err)
	}
	bad := kitresolver.Backoff{Base: time.Second, Max: time.Millisecond, Multiplier: 2}
	cli := newClient(t, registrytest.StartEtcd(t).Endpoints()...)
	cc, _ = buildResolver(t, etcd.NewBuilder(cli, etcd.WithBackoff(bad)), "etcd:///greeter")
	if err, _ := cc.Errors.Receive(timeoutCtx(t, testutil.DefaultTimeout)); err == nil || !strings.Contains(err.Error(), "backoff") {
		t.Fatalf("ReportError got %v, want the backoff error", err)
	}
}

func TestResolveNowDoesNotBlock(t *testing.T) {
	cluster := registrytest.StartEtcd(t)
	proxy := registrytest.StartProxy(t, cluster.Endpoints()[0])
	cli := newClient(t, proxy.Addr())
	proxy.Blackhole() // the resolver's first list hangs until its timeout
	_, r := buildResolver(t, etcd.NewBuilder(cli, etcd.WithRequestTimeout(time.Second)), "etcd:///greeter")
	done := make(chan struct{})
	go func() {
		for range 1000 {
			r.ResolveNow(resolverNowOpts)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(testutil.DefaultTimeout):
		t.Fatal("ResolveNow blocked")
	}
	proxy.Resume()
}

func TestResolverUnreachableBeforeFirstListReportsError(t *testing.T) {
	cluster := registrytest.StartEtcd(t)
	proxy := registrytest.StartProxy(t, cluster.Endpoints()[0])
	proxy.Blackhole()
	cli := newClient(t, proxy.Addr())
	cc, _ := buildResolver(t, etcd.NewBuilder(cli, etcd.WithRequestTimeout(300*time.Millisecond)), "etcd:///greeter")
	err, _ := cc.Errors.Receive(timeoutCtx(t, testutil.DefaultTimeout))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "etcd: resolving") {
		t.Fatalf("ReportError got %v, want a deadline error from the first list", err)
	}
	proxy.Resume()
}

func TestResolverIdleTimeout(t *testing.T) {
	cli := newClient(t, registrytest.StartEtcd(t).Endpoints()...)
	a, regA := startGreeter(t, cli, "greeter")
	c, conn := dial(t, "etcd:///greeter", etcd.NewBuilder(cli), grpc.WithIdleTimeout(100*time.Millisecond))
	waitServedBy(t, c, a.Addr)
	for range 3 {
		waitIdle(t, conn)
		// Changes made while the channel is idle are seen when it wakes.
		b, regB := startGreeter(t, cli, "greeter")
		if err := regA.Deregister(timeoutCtx(t, testutil.DefaultTimeout)); err != nil {
			t.Fatal(err)
		}
		waitServedBy(t, c, b.Addr)
		a, regA = b, regB
	}
}
