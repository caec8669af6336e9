package etcd_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/internal/testutil"
	"github.com/grpckit/grpckit/registrytest"
	"github.com/grpckit/grpckit/resolver/etcd"
)

// watcherTotal reads the etcd server's count of watchers
// (etcd_debugging_mvcc_watcher_total) from its /metrics page.
func watcherTotal(t testing.TB, endpoint string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+endpoint+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("reading etcd's metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "etcd_debugging_mvcc_watcher_total "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("etcd_debugging_mvcc_watcher_total %q: %v", v, err)
			}
			return int(f)
		}
	}
	t.Fatalf("etcd's metrics have no etcd_debugging_mvcc_watcher_total (scan error: %v)", sc.Err())
	return 0
}

// waitWatchers polls until the server counts want watchers.
func waitWatchers(t testing.TB, endpoint string, want int) {
	t.Helper()
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	got := watcherTotal(t, endpoint)
	for got != want {
		select {
		case <-ctx.Done():
			t.Fatalf("etcd counts %d watchers, want %d", got, want)
		case <-time.After(20 * time.Millisecond):
		}
		got = watcherTotal(t, endpoint)
	}
}

func putInstance(t testing.TB, cli *clientv3.Client, id, addr string) {
	t.Helper()
	if _, err := cli.Put(timeoutCtx(t, 5*time.Second), "/services/greeter/"+id, addr); err != nil {
		t.Fatalf("put %s: %v", id, err)
	}
}

// TestSharedWatch500Channels resolves one service from 500 channels of one
// builder: etcd sees one watcher, every channel converges on every change,
// a channel built late has the current set when Build returns, and closing
// the last channel removes the watcher.
func TestSharedWatch500Channels(t *testing.T) {
	const channels = 500
	cluster := registrytest.StartEtcd(t)
	endpoint := cluster.Endpoints()[0]
	cli := newClient(t, endpoint)
	putInstance(t, cli, "a", "127.0.0.1:1001")

	// The anchor: a raw watch of the same keys, to time a change by.
	raw := cli.Watch(timeoutCtx(t, time.Minute), "/services/greeter/", clientv3.WithPrefix(), clientv3.WithCreatedNotify())
	<-raw
	base := watcherTotal(t, endpoint)

	b := etcd.NewBuilder(cli)
	ccs := make([]*testutil.ResolverClientConn, channels)
	rs := make([]resolver.Resolver, channels)
	for i := range ccs {
		ccs[i], rs[i] = buildResolverNoCleanup(t, b, "etcd:///greeter")
	}
	defer func() {
		for _, r := range rs {
			r.Close()
		}
	}()
	for _, cc := range ccs {
		waitState(t, cc, hasIDs("a"))
	}

	for round, id := range []string{"b", "c"} {
		start := time.Now()
		putInstance(t, cli, id, fmt.Sprintf("127.0.0.1:%d", 1002+round))
		if resp := <-raw; resp.Err() != nil {
			t.Fatal(resp.Err())
		}
		anchor := time.Since(start)
		want := []string{"a", "b", "c"}[:round+2]
		for _, cc := range ccs {
			waitState(t, cc, hasIDs(want...))
		}
		t.Logf("change %d: raw watch event after %v, all %d channels after %v", round, anchor, channels, time.Since(start))
		waitWatchers(t, endpoint, base+1)
	}
	if n := etcd.Watches(b); n != 1 {
		t.Fatalf("the builder runs %d watches, want 1", n)
	}

	// A late channel has the set at once.
	cc := testutil.NewResolverClientConn()
	late, err := b.Build(resolver.Target{URL: *mustURL(t, "etcd:///greeter")}, cc, resolver.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, ok := cc.LastState()
	late.Close()
	if !ok || !hasIDs("a", "b", "c")(instances(s)) {
		t.Fatalf("a channel joining late has %v (any: %t) when Build returns, want a, b, c", instances(s), ok)
	}

	for _, r := range rs {
		r.Close()
	}
	waitWatchers(t, endpoint, base)
	if n := etcd.Watches(b); n != 0 {
		t.Fatalf("the builder runs %d watches after every channel closed, want 0", n)
	}
}

// TestSharedWatchIdleChannel lets one of two channels sharing a watch go
// idle: the other keeps getting changes, and the idle one, woken, is served
// by the current set.
func TestSharedWatchIdleChannel(t *testing.T) {
	cluster := registrytest.StartEtcd(t)
	cli := newClient(t, cluster.Endpoints()[0])
	g1, _ := startGreeter(t, cli, "greeter")
	b := etcd.NewBuilder(cli, etcd.WithBackoff(fastBackoff))
	busy, _ := dial(t, "etcd:///greeter", b)
	idle, idleConn := dial(t, "etcd:///greeter", b, grpc.WithIdleTimeout(100*time.Millisecond))
	waitServedBy(t, busy, g1.Addr)
	waitServedBy(t, idle, g1.Addr)
	waitIdle(t, idleConn)

	g2, _ := startGreeter(t, cli, "greeter")
	waitServedBy(t, busy, g1.Addr, g2.Addr)
	if n := etcd.Watches(b); n != 1 {
		t.Fatalf("the builder runs %d watches, want 1", n)
	}
	waitServedBy(t, idle, g1.Addr, g2.Addr)
}

// TestSharedWatchKeysByService gives each service of a builder its own
// watch, and each builder its own.
func TestSharedWatchKeysByService(t *testing.T) {
	cluster := registrytest.StartEtcd(t)
	cli := newClient(t, cluster.Endpoints()[0])
	putInstance(t, cli, "a", "127.0.0.1:1001")
	b1, b2 := etcd.NewBuilder(cli), etcd.NewBuilder(cli)
	cc1, _ := buildResolver(t, b1, "etcd:///greeter")
	cc2, _ := buildResolver(t, b1, "etcd:///other")
	cc3, _ := buildResolver(t, b2, "etcd:///greeter")
	waitState(t, cc1, hasIDs("a"))
	waitState(t, cc2, hasIDs())
	waitState(t, cc3, hasIDs("a"))
	if n1, n2 := etcd.Watches(b1), etcd.Watches(b2); n1 != 2 || n2 != 1 {
		t.Fatalf("watches per builder: %d and %d, want 2 and 1", n1, n2)
	}
}

// buildResolverNoCleanup builds b's resolver for target on a fake
// ClientConn; the caller closes it.
func buildResolverNoCleanup(t testing.TB, b resolver.Builder, target string) (*testutil.ResolverClientConn, resolver.Resolver) {
	t.Helper()
	cc := testutil.NewResolverClientConn()
	r, err := b.Build(resolver.Target{URL: *mustURL(t, target)}, cc, resolver.BuildOptions{})
	if err != nil {
		t.Fatalf("Build(%q): %v", target, err)
	}
	return cc, r
}

func mustURL(t testing.TB, target string) *url.URL {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("url.Parse(%q): %v", target, err)
	}
	return u
}
