package etcd_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/internal/testutil"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	"github.com/grpckit/grpckit/registrytest"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/etcd"
)

// traffic sends calls in a loop until stopped and counts the failures.
type traffic struct {
	calls, failures atomic.Int64
	mu              sync.Mutex
	firstErr        error
	cancel          context.CancelFunc
	done            chan struct{}
}

func startTraffic(c greeterv1.GreeterClient) *traffic {
	ctx, cancel := context.WithCancel(context.Background())
	tr := &traffic{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(tr.done)
		for ctx.Err() == nil {
			_, err := hello(ctx, c)
			if ctx.Err() != nil {
				return
			}
			tr.calls.Add(1)
			if err != nil {
				tr.fail(err)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return tr
}

func (tr *traffic) fail(err error) {
	tr.failures.Add(1)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.firstErr == nil {
		tr.firstErr = err
	}
}

// stop ends the loop and fails the test if any call failed.
func (tr *traffic) stop(t testing.TB) {
	t.Helper()
	tr.cancel()
	<-tr.done
	t.Logf("%d calls, %d failed", tr.calls.Load(), tr.failures.Load())
	if n := tr.failures.Load(); n > 0 {
		t.Fatalf("%d of %d calls to healthy backends failed; first: %v", n, tr.calls.Load(), tr.firstErr)
	}
	if tr.calls.Load() == 0 {
		t.Fatal("no calls were made")
	}
}

// TestOutageCycles kills every etcd member for three TTLs, ten times, while
// a client calls three healthy backends: no call may fail, and after each
// restart every instance must be registered again within two TTLs. The keys
// whose leases expired during the outage are missing for a moment after each
// restart; the recovery grace (WithRecoveryGrace, default 20 s, well beyond
// the two TTLs asserted) keeps the channel's set until they are back.
func TestOutageCycles(t *testing.T) {
	const ttl, cycles = time.Second, 10
	cluster := registrytest.StartEtcdCluster(t, 3)
	eps := cluster.Endpoints()
	regCli, checkCli := newClient(t, eps...), newClient(t, eps...)
	var regs []*etcd.Registration
	var logs []*stateLog
	var addrs []string
	for range 3 {
		log := &stateLog{}
		g, reg := startGreeter(t, regCli, "greeter", etcd.WithTTL(ttl), etcd.WithStateFunc(log.record))
		regs, logs, addrs = append(regs, reg), append(logs, log), append(addrs, g.Addr)
	}
	resCli := newClient(t, eps...)
	c, _ := dial(t, "etcd:///greeter", etcd.NewBuilder(resCli, etcd.WithBackoff(fastBackoff), etcd.WithRequestTimeout(time.Second)))
	waitServedBy(t, c, addrs...)

	tr := startTraffic(c)
	for cycle := 1; cycle <= cycles; cycle++ {
		stopAll(cluster)
		time.Sleep(3 * ttl) // the outage itself
		if err := cluster.RestartAll(); err != nil {
			t.Fatalf("cycle %d: RestartAll: %v", cycle, err)
		}
		restarted := time.Now()
		waitRegistered(t, checkCli, regs, func() bool {
			return !slices.ContainsFunc(logs, func(l *stateLog) bool { return l.count(etcd.StateRestored) < cycle })
		})
		if d := time.Since(restarted); d > 2*ttl {
			t.Fatalf("cycle %d: instances registered again %v after the restart, want within 2 TTLs", cycle, d)
		}
		t.Logf("cycle %d: registered again %v after the restart", cycle, time.Since(restarted).Round(time.Millisecond))
	}
	tr.stop(t)
	waitServedBy(t, c, addrs...)
	// The leases are really kept alive: the keys outlive several TTLs.
	for deadline := time.Now().Add(3 * ttl); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if !allRegistered(timeoutCtx(t, testutil.DefaultTimeout), checkCli, regs) {
			t.Fatal("a registration vanished after the outages")
		}
	}
}

// waitRegistered polls until every registration's key exists under its
// current lease and restored reports true.
func waitRegistered(t testing.TB, cli *clientv3.Client, regs []*etcd.Registration, restored func() bool) {
	t.Helper()
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	for !(restored() && allRegistered(ctx, cli, regs)) {
		select {
		case <-ctx.Done():
			t.Fatalf("instances not registered again before the deadline (restored: %t)", restored())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func allRegistered(ctx context.Context, cli *clientv3.Client, regs []*etcd.Registration) bool {
	for _, reg := range regs {
		rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		resp, err := cli.Get(rctx, reg.Key())
		cancel()
		if err != nil || len(resp.Kvs) != 1 || clientv3.LeaseID(resp.Kvs[0].Lease) != reg.Lease() {
			return false
		}
	}
	return true
}

// TestRegistryBlackholed cuts the registry off silently: a serving channel
// keeps serving, a new channel to the same service gets the last good set of
// the watch it shares, a new channel to another service has its calls end
// at their deadline, Register ends at its context's deadline.
func TestRegistryBlackholed(t *testing.T) {
	cluster := registrytest.StartEtcd(t)
	proxy := registrytest.StartProxy(t, cluster.Endpoints()[0])
	cli := newClient(t, proxy.Addr())
	g, _ := startGreeter(t, cli, "greeter", etcd.WithTTL(time.Second))
	b := etcd.NewBuilder(cli, etcd.WithBackoff(fastBackoff), etcd.WithRequestTimeout(time.Second))
	c, _ := dial(t, "etcd:///greeter", b)
	waitServedBy(t, c, g.Addr)

	tr := startTraffic(c)
	proxy.Blackhole()
	time.Sleep(3 * time.Second) // black-holed for three TTLs

	late, _ := dial(t, "etcd:///greeter", b)
	waitServedBy(t, late, g.Addr)

	start := time.Now()
	fresh, _ := dial(t, "etcd:///other", b)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err := fresh.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "x"})
	cancel()
	if code := status.Code(err); code != codes.DeadlineExceeded && code != codes.Unavailable {
		t.Fatalf("call on a new channel with the registry black-holed = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("dial and call took %v, past the 300ms deadline", d)
	}

	start = time.Now()
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err = etcd.Register(ctx, cli, kitresolver.Instance{Service: "greeter", Addr: "127.0.0.1:1"})
	cancel()
	if err == nil || time.Since(start) > time.Second {
		t.Fatalf("Register with the registry black-holed = %v after %v, want an error by the deadline", err, time.Since(start))
	}
	tr.stop(t)
	proxy.Resume()
}

// TestCompactionWhileWatchPaused changes and compacts the service while the
// resolver's watch is stalled; afterwards its set equals a fresh Get.
func TestCompactionWhileWatchPaused(t *testing.T) {
	cluster := registrytest.StartEtcd(t)
	proxy := registrytest.StartProxy(t, cluster.Endpoints()[0])
	admin := newClient(t, cluster.Endpoints()...)
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	put := func(id, addr string) {
		t.Helper()
		if _, err := admin.Put(ctx, "/services/greeter/"+id, addr); err != nil {
			t.Fatal(err)
		}
	}
	put("a", "127.0.0.1:1")
	put("b", "127.0.0.1:2")
	cc, r := buildResolver(t, etcd.NewBuilder(newClient(t, proxy.Addr()), etcd.WithBackoff(fastBackoff)), "etcd:///greeter")
	waitState(t, cc, hasIDs("a", "b"))
	lists := etcd.ListCount(r)

	proxy.Pause()
	put("c", "127.0.0.1:3")
	put("b", "127.0.0.1:22")
	if _, err := admin.Delete(ctx, "/services/greeter/a"); err != nil {
		t.Fatal(err)
	}
	for i := range 20 { // churn that the compaction erases
		put(fmt.Sprintf("tmp%d", i), "127.0.0.1:9")
		admin.Delete(ctx, fmt.Sprintf("/services/greeter/tmp%d", i))
	}
	resp, err := admin.Get(ctx, "/services/greeter/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	proxy.DropAll() // the held events are lost: the watch resumes from its old revision
	proxy.Resume()

	want := kvView(resp.Kvs)
	waitState(t, cc, func(insts []kitresolver.Instance) bool { return cmp.Equal(want, instView(insts)) })
	if got := etcd.ListCount(r); got <= lists {
		t.Fatalf("resolver listed %d times, %d before the compaction: want a re-list", got, lists)
	}
}

// kvView and instView render keys and instances as sorted "id=addr".
func kvView(kvs []*mvccpb.KeyValue) []string {
	var out []string
	for _, kv := range kvs {
		out = append(out, strings.TrimPrefix(string(kv.Key), "/services/greeter/")+"="+string(kv.Value))
	}
	slices.Sort(out)
	return out
}

func instView(insts []kitresolver.Instance) []string {
	var out []string
	for _, inst := range insts {
		out = append(out, inst.ID+"="+inst.Addr)
	}
	slices.Sort(out)
	return out
}

// TestBlackholedMemberWatch black-holes each member in turn, one of which
// holds the resolver's watch: updates must still arrive.
func TestBlackholedMemberWatch(t *testing.T) {
	cluster := registrytest.StartEtcdCluster(t, 3)
	var proxies []*registrytest.Proxy
	var addrs []string
	for _, ep := range cluster.Endpoints() {
		p := registrytest.StartProxy(t, ep)
		proxies, addrs = append(proxies, p), append(addrs, p.Addr())
	}
	admin := newClient(t, cluster.Endpoints()...)
	cc, _ := buildResolver(t, etcd.NewBuilder(newClient(t, addrs...), etcd.WithBackoff(fastBackoff), etcd.WithRequestTimeout(time.Second)), "etcd:///greeter")
	waitState(t, cc, hasIDs())
	var want []string
	for i, p := range proxies {
		p.Blackhole()
		id := fmt.Sprintf("i%d", i)
		if _, err := admin.Put(timeoutCtx(t, testutil.DefaultTimeout), "/services/greeter/"+id, fmt.Sprintf("127.0.0.1:%d", i+1)); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
		start := time.Now()
		waitStateWithin(t, cc, 20*time.Second, hasIDs(want...))
		t.Logf("member %d black-holed: update arrived after %v", i, time.Since(start).Round(time.Millisecond))
		p.Resume()
	}
}

// stopAll stops every member: the followers together, then the leader, which
// then has nobody to hand its leadership to and stops at once.
func stopAll(c *registrytest.EtcdCluster) {
	leader := c.Leader()
	var wg sync.WaitGroup
	for i := range c.Members() {
		if i != leader {
			wg.Go(func() { c.Stop(i) })
		}
	}
	wg.Wait()
	if leader >= 0 {
		c.Stop(leader)
	}
}
