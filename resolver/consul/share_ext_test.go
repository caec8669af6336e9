package consul_test

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/internal/testutil"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/consul"
)

// countingAgent is a reverse proxy to the agent that counts the health
// queries for one service: all of them, those in flight, and the most in
// flight at once.
type countingAgent struct {
	srv  *httptest.Server
	path string

	mu          sync.Mutex
	total       int
	inFlight    int
	maxInFlight int
	failing     bool                     // answer 503 to the health queries
	failures    int                      // health queries answered 503
	cancels     map[*http.Request]func() // of the health queries in flight
}

func startCountingAgent(t testing.TB, service string) *countingAgent {
	t.Helper()
	up, err := url.Parse("http://" + agent.Addr())
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	rp := httputil.NewSingleHostReverseProxy(up)
	rp.Transport = tr
	rp.ErrorLog = log.New(io.Discard, "", 0) // a closing channel cancels its query
	c := &countingAgent{path: "/v1/health/service/" + service}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == c.path {
			ctx, ok := c.begin(r)
			defer c.end(r)
			if !ok {
				http.Error(w, "agent failing (test)", http.StatusServiceUnavailable)
				return
			}
			r = r.WithContext(ctx)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		c.srv.CloseClientConnections()
		c.srv.Close()
		tr.CloseIdleConnections()
	})
	return c
}

// begin counts a health query and returns the context to forward it with,
// or false when the agent is failing.
func (c *countingAgent) begin(r *http.Request) (context.Context, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total++
	c.inFlight++
	c.maxInFlight = max(c.maxInFlight, c.inFlight)
	if c.failing {
		c.failures++
		return nil, false
	}
	ctx, cancel := context.WithCancel(r.Context())
	if c.cancels == nil {
		c.cancels = map[*http.Request]func(){}
	}
	c.cancels[r] = cancel
	return ctx, true
}

func (c *countingAgent) end(r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inFlight--
	if cancel := c.cancels[r]; cancel != nil {
		cancel()
		delete(c.cancels, r)
	}
}

// setFailing makes the health queries fail, those in flight too, or
// stops that.
func (c *countingAgent) setFailing(failing bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failing = failing
	if failing {
		for _, cancel := range c.cancels {
			cancel()
		}
	}
}

func (c *countingAgent) failed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failures
}

func (c *countingAgent) counts() (total, inFlight, maxInFlight int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total, c.inFlight, c.maxInFlight
}

func (c *countingAgent) target(service string, query ...string) string {
	t := "consul://" + c.srv.Listener.Addr().String() + "/" + service
	if len(query) > 0 {
		t += "?" + query[0]
	}
	return t
}

func registerAt(t testing.TB, cli *api.Client, service, id string, port int) {
	t.Helper()
	claimID(t, cli, id)
	reg := &api.AgentServiceRegistration{ID: id, Name: service, Address: "127.0.0.1", Port: port}
	if err := cli.Agent().ServiceRegister(reg); err != nil {
		t.Fatalf("registering %s: %v", id, err)
	}
	t.Cleanup(func() { _ = cli.Agent().ServiceDeregister(id) })
}

func hasIDs(want ...string) func(resolver.State) bool {
	slices.Sort(want)
	return func(s resolver.State) bool {
		var got []string
		for _, inst := range instances(s) {
			got = append(got, inst.ID)
		}
		slices.Sort(got)
		return slices.Equal(got, want)
	}
}

// waitLast polls until cc's newest state satisfies ok.
func waitLast(t testing.TB, cc *testutil.ResolverClientConn, ok func(resolver.State) bool) {
	t.Helper()
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	for {
		if s, have := cc.LastState(); have && ok(s) {
			return
		}
		select {
		case <-ctx.Done():
			s, _ := cc.LastState()
			t.Fatalf("no matching state before the deadline; last %v", instances(s))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestSharedWatch500Channels resolves one service from 500 channels of one
// builder: the agent sees one blocking query at a time, every channel
// converges on every change, a channel built late has the current set when
// Build returns, and the query ends with the last channel.
func TestSharedWatch500Channels(t *testing.T) {
	t.Parallel()
	const channels = 500
	const service = "greeter-share500"
	cli := agent.Client()
	registerAt(t, cli, service, "s1", 1001)
	proxy := startCountingAgent(t, service)
	b := consul.NewBuilder()

	rs := make([]resolver.Resolver, channels)
	ccs := make([]*testutil.ResolverClientConn, channels)
	closeAll := sync.OnceFunc(func() {
		for _, r := range rs {
			if r != nil {
				r.Close()
			}
		}
	})
	defer closeAll()
	u, _ := url.Parse(proxy.target(service))
	for i := range rs {
		ccs[i] = testutil.NewResolverClientConn()
		r, err := b.Build(resolver.Target{URL: *u}, ccs[i], resolver.BuildOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rs[i] = r
	}
	for _, cc := range ccs {
		waitLast(t, cc, hasIDs("s1"))
	}
	// The raw blocking query, to time a change by.
	_, meta, err := cli.Health().Service(service, "", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	for round, id := range []string{"s2", "s3"} {
		rawDone := make(chan time.Time, 1)
		go func() {
			_, _, _ = cli.Health().Service(service, "", true, (&api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 30 * time.Second}).WithContext(timeoutCtx(t, time.Minute)))
			rawDone <- time.Now()
		}()
		time.Sleep(50 * time.Millisecond) // let the raw query block; it only times
		start := time.Now()
		registerAt(t, cli, service, id, 1002+round)
		want := []string{"s1", "s2", "s3"}[:round+2]
		for _, cc := range ccs {
			waitLast(t, cc, hasIDs(want...))
		}
		all := time.Since(start)
		t.Logf("change %d: raw blocking query returned after %v, all %d channels after %v", round, (<-rawDone).Sub(start), channels, all)
		_, meta, err = cli.Health().Service(service, "", true, nil)
		if err != nil {
			t.Fatal(err)
		}
	}

	cc := testutil.NewResolverClientConn()
	late, err := b.Build(resolver.Target{URL: *u}, cc, resolver.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, ok := cc.LastState()
	late.Close()
	if !ok || !hasIDs("s1", "s2", "s3")(s) {
		t.Fatalf("a channel joining late has %v (any: %t) when Build returns, want s1, s2, s3", instances(s), ok)
	}

	total, _, maxInFlight := proxy.counts()
	if maxInFlight != 1 {
		t.Fatalf("the agent saw %d health queries at once from %d channels, want 1", maxInFlight, channels)
	}
	// One query to start, one per change, and a few more the agent may
	// end early (its wait jitter, a change of index with the same set).
	if total > 10 {
		t.Fatalf("the agent saw %d health queries for 2 changes, want at most 10", total)
	}
	closeAll()
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	for _, inFlight, _ := proxy.counts(); inFlight != 0; _, inFlight, _ = proxy.counts() {
		select {
		case <-ctx.Done():
			t.Fatalf("%d health queries still in flight after every channel closed", inFlight)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestSharedWatchKeys: targets asking different questions (tags, health
// filter, near) get watches of their own; tag order does not matter.
func TestSharedWatchKeys(t *testing.T) {
	t.Parallel()
	const service = "greeter-sharekeys"
	cli := agent.Client()
	registerAt(t, cli, service, "k1", 1001)
	proxy := startCountingAgent(t, service)
	b := consul.NewBuilder()
	targets := []string{
		proxy.target(service),
		proxy.target(service, "tag=a&tag=b"),
		proxy.target(service, "tag=b&tag=a"), // shares with the one above
		proxy.target(service, "healthy=false"),
		proxy.target(service, "near=_agent"),
		proxy.target(service), // shares with the first
	}
	for _, tg := range targets {
		buildResolver(t, b, tg)
	}
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	for _, inFlight, _ := proxy.counts(); inFlight != 4; _, inFlight, _ = proxy.counts() {
		select {
		case <-ctx.Done():
			t.Fatalf("%d blocking queries in flight, want 4", inFlight)
		case <-time.After(10 * time.Millisecond):
		}
	}
	time.Sleep(200 * time.Millisecond) // a fifth would start now, if one were made
	if _, inFlight, maxInFlight := proxy.counts(); inFlight != 4 || maxInFlight != 4 {
		t.Fatalf("%d blocking queries in flight (%d at most), want 4", inFlight, maxInFlight)
	}
}

// TestSharedWatchIdleChannel lets one of two channels sharing a watch go
// idle: the other keeps getting changes, and the idle one, woken, is served
// by the current set.
func TestSharedWatchIdleChannel(t *testing.T) {
	t.Parallel()
	const service = "greeter-shareidle"
	cli := agent.Client()
	startBackend(t, cli, service, "si1")
	b := consul.NewBuilder()
	busy, _ := dial(t, target(service), b)
	idle, idleConn := dial(t, target(service), b, grpc.WithIdleTimeout(300*time.Millisecond))
	waitServedBy(t, busy, "si1")
	waitServedBy(t, idle, "si1")
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	for s := idleConn.GetState(); s.String() != "IDLE"; s = idleConn.GetState() {
		if !idleConn.WaitForStateChange(ctx, s) {
			t.Fatalf("channel still %v at the deadline, want IDLE", s)
		}
	}
	startBackend(t, cli, service, "si2")
	waitServedBy(t, busy, "si1", "si2")
	waitServedBy(t, idle, "si1", "si2")
}

// TestSharedWatchOutage: the agent fails every health query under 20
// channels sharing a watch. The watch retries; every channel keeps the last
// good set and is never told of an error; the agent asked by all of them no
// more often than one channel's backoff allows; when the agent answers
// again, a change reaches them all.
func TestSharedWatchOutage(t *testing.T) {
	t.Parallel()
	const channels = 20
	const service = "greeter-shareoutage"
	cli := agent.Client()
	registerAt(t, cli, service, "o1", 1001)
	proxy := startCountingAgent(t, service)
	bo := kitresolver.Backoff{Base: 50 * time.Millisecond, Max: 10 * time.Second, Multiplier: 2, Jitter: 0.2}
	b := consul.NewBuilder(consul.WithBackoff(bo))
	ccs := make([]*testutil.ResolverClientConn, channels)
	rs := make([]resolver.Resolver, channels)
	u, _ := url.Parse(proxy.target(service))
	for i := range ccs {
		ccs[i] = testutil.NewResolverClientConn()
		r, err := b.Build(resolver.Target{URL: *u}, ccs[i], resolver.BuildOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		rs[i] = r
	}
	for _, cc := range ccs {
		waitLast(t, cc, hasIDs("o1"))
	}

	start := time.Now()
	proxy.setFailing(true)
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() { // gRPC calls ResolveNow on every failed connection
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				for _, r := range rs {
					r.ResolveNow(resolver.ResolveNowOptions{})
				}
			}
		}
	}()
	time.Sleep(2 * time.Second) // the observation window; the ceiling follows from its real length
	close(stop)
	<-stopped
	failed, elapsed := proxy.failed(), time.Since(start)
	// Waits between retries last at least (1-Jitter)·Base·Multiplier^i.
	ceiling, sum := 1, time.Duration(0)
	for d := time.Duration((1 - bo.Jitter) * float64(bo.Base)); sum+d <= elapsed; d = time.Duration(float64(d) * bo.Multiplier) {
		sum += d
		ceiling++
	}
	t.Logf("%d failed queries from %d channels in %v; one channel's backoff allows at most %d", failed, channels, elapsed.Round(time.Millisecond), ceiling)
	if failed < 2 {
		t.Fatalf("%d failed queries in %v; want the watch to keep retrying", failed, elapsed)
	}
	if failed > ceiling {
		t.Fatalf("%d failed queries from %d channels in %v; one channel's backoff allows at most %d", failed, channels, elapsed, ceiling)
	}
	for i, cc := range ccs {
		if err, ok := cc.Errors.Drain(); ok {
			t.Fatalf("channel %d was told %v during the outage; want the last good set kept quietly", i, err)
		}
		if s, _ := cc.LastState(); !hasIDs("o1")(s) {
			t.Fatalf("channel %d has %v during the outage, want the last good set [o1]", i, instances(s))
		}
	}

	proxy.setFailing(false)
	registerAt(t, cli, service, "o2", 1002)
	for _, cc := range ccs {
		waitLast(t, cc, hasIDs("o1", "o2"))
	}
}

// TestQueryBackendReported: the watcher records which backend the agent
// answered its blocking queries from. The 1.14 agent answers them from its
// streaming backend (one materialized view per service on the agent,
// however many clients ask), except near queries, which it cannot stream.
func TestQueryBackendReported(t *testing.T) {
	t.Parallel()
	const service = "greeter-backend"
	cli := agent.Client()
	registerAt(t, cli, service, "q1", 1001)
	b := consul.NewBuilder()
	want := map[string]string{target(service): api.QueryBackendStreaming, target(service, "near=_agent"): api.QueryBackendBlockingQuery}
	rs := map[string]resolver.Resolver{}
	for tg := range want {
		u, _ := url.Parse(tg)
		cc := testutil.NewResolverClientConn()
		r, err := b.Build(resolver.Target{URL: *u}, cc, resolver.BuildOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		rs[tg] = r
		waitLast(t, cc, hasIDs("q1"))
	}
	registerAt(t, cli, service, "q2", 1002) // ends the blocking queries
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	for tg, r := range rs {
		for got := consul.QueryBackend(r); got != want[tg]; got = consul.QueryBackend(r) {
			select {
			case <-ctx.Done():
				t.Fatalf("%s: blocking queries answered by %q, want %q", tg, got, want[tg])
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
}
