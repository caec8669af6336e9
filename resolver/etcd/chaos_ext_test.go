package etcd_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/grpckit/grpckit/internal/testutil"
	"github.com/grpckit/grpckit/registrytest"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/etcd"
)

// chaosRequestTimeout bounds every registry request of the chaos test's
// registrations, and so each of their Deregister calls.
const chaosRequestTimeout = time.Second

// chaosConverge is how long the resolver has, once the registry answers
// again after a fault, to publish exactly what the registry holds.
const chaosConverge = 2 * time.Second

// chaosGrace is the resolver's recovery grace: an empty set that follows an
// outage is published up to this much later (see WithRecoveryGrace).
const chaosGrace = time.Second

// chaos drives a 3-member cluster through random faults while registrations
// come and go, and checks the resolver and the registrar after every fault.
type chaos struct {
	t       *testing.T
	rng     *rand.Rand
	cluster *registrytest.EtcdCluster
	proxies []*registrytest.Proxy
	admin   *clientv3.Client // straight to the members: the registry's truth
	regCli  *clientv3.Client // through the proxies, as a server's client
	cc      *testutil.ResolverClientConn
	regs    map[string]*etcd.Registration
	next    int
}

// TestChaos loops member kill and restart, whole-cluster outages,
// black-holed connections and compaction for a bounded time
// (GRPCKIT_CHAOS_DURATION, default 20s; GRPCKIT_CHAOS_SEED picks the
// faults, else the time does and the seed is logged), registering and
// deregistering instances during each fault. After every fault the resolver must publish
// the registry's set within 2 s of the registry answering again, and every
// Deregister must return within its request timeout, faults or not.
func TestChaos(t *testing.T) {
	duration := 20 * time.Second
	if s := os.Getenv("GRPCKIT_CHAOS_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("GRPCKIT_CHAOS_DURATION: %v", err)
		}
		duration = d
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("GRPCKIT_CHAOS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("GRPCKIT_CHAOS_SEED: %v", err)
		}
		seed = n
	}
	t.Logf("seed %d (GRPCKIT_CHAOS_SEED replays the same faults)", seed)
	c := newChaos(t, seed)
	faults := []struct {
		name string
		run  func()
	}{
		{"kill one member", c.killOne},
		{"kill every member", c.killAll},
		{"black-hole every connection", c.blackhole},
		{"compact", c.compact},
	}
	end := time.Now().Add(duration)
	for round := 0; time.Now().Before(end); round++ {
		f := faults[c.rng.IntN(len(faults))]
		t.Logf("round %d: %s", round, f.name)
		f.run()
		c.checkConverged(round, f.name)
	}
	for id := range c.regs {
		c.deregister(id)
	}
	c.checkConverged(-1, "final deregistration")
}

func newChaos(t *testing.T, seed uint64) *chaos {
	cluster := registrytest.StartEtcdCluster(t, 3)
	c := &chaos{t: t, rng: rand.New(rand.NewPCG(seed, seed)), cluster: cluster, regs: map[string]*etcd.Registration{}}
	var addrs []string
	for _, ep := range cluster.Endpoints() {
		p := registrytest.StartProxy(t, ep)
		c.proxies, addrs = append(c.proxies, p), append(addrs, p.Addr())
	}
	c.admin = newClient(t, cluster.Endpoints()...)
	c.regCli = newClient(t, addrs...)
	b := etcd.NewBuilder(newClient(t, addrs...), etcd.WithBackoff(fastBackoff), etcd.WithRequestTimeout(chaosRequestTimeout),
		etcd.WithRecoveryGrace(chaosGrace))
	c.cc, _ = buildResolver(t, b, "etcd:///chaos")
	for range 3 {
		c.register()
	}
	c.checkConverged(-1, "start")
	return c
}

// churn registers or deregisters a few instances; with the registry down
// registrations may fail, deregistrations must still return in time.
func (c *chaos) churn() {
	for range 1 + c.rng.IntN(3) {
		if len(c.regs) > 0 && c.rng.IntN(2) == 0 {
			c.deregister(c.anyID())
		} else {
			c.register()
		}
	}
}

func (c *chaos) anyID() string {
	ids := make([]string, 0, len(c.regs))
	for id := range c.regs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids[c.rng.IntN(len(ids))]
}

func (c *chaos) register() {
	c.next++
	id := fmt.Sprintf("i%03d", c.next)
	inst := kitresolver.Instance{ID: id, Service: "chaos", Addr: fmt.Sprintf("127.0.0.1:%d", 20000+c.next)}
	ctx, cancel := context.WithTimeout(context.Background(), 2*chaosRequestTimeout)
	defer cancel()
	reg, err := etcd.Register(ctx, c.regCli, inst, etcd.WithTTL(2*time.Second),
		etcd.WithRequestTimeout(chaosRequestTimeout), etcd.WithBackoff(fastBackoff))
	if err != nil {
		c.t.Logf("register %s: %v (registry faulted)", id, err)
		return
	}
	c.regs[id] = reg
}

// deregister removes id with a context that never ends: Deregister must
// still return within its request timeout (plus scheduling slack).
func (c *chaos) deregister(id string) {
	reg := c.regs[id]
	delete(c.regs, id)
	start := time.Now()
	err := reg.Deregister(context.Background())
	d := time.Since(start)
	if d > 2*chaosRequestTimeout {
		c.t.Fatalf("Deregister(%s) took %v, past its request timeout %v (err %v)", id, d, chaosRequestTimeout, err)
	}
	if err != nil {
		c.t.Logf("deregister %s after %v: %v", id, d.Round(time.Millisecond), err)
	}
}

func (c *chaos) pause() {
	time.Sleep(time.Duration(200+c.rng.IntN(800)) * time.Millisecond)
}

func (c *chaos) killOne() {
	i := c.rng.IntN(len(c.cluster.Members()))
	c.cluster.Stop(i)
	c.churn()
	c.pause()
	if err := c.cluster.Restart(i); err != nil {
		c.t.Fatalf("restart member %d: %v", i, err)
	}
}

func (c *chaos) killAll() {
	stopAll(c.cluster)
	c.churn()
	c.pause()
	if err := c.cluster.RestartAll(); err != nil {
		c.t.Fatalf("restart cluster: %v", err)
	}
}

func (c *chaos) blackhole() {
	for _, p := range c.proxies {
		p.Blackhole()
	}
	c.churn()
	c.pause()
	for _, p := range c.proxies {
		p.Resume()
	}
}

// compact churns, then compacts away the history the watch would replay.
func (c *chaos) compact() {
	c.churn()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	resp, err := c.admin.Get(ctx, "registrytest-compact")
	if err != nil {
		c.t.Fatalf("get revision: %v", err)
	}
	if _, err := c.admin.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		c.t.Fatalf("compact: %v", err)
	}
}

// checkConverged waits for the registry to answer, then for the resolver to
// publish the ids the registry holds, within chaosConverge.
func (c *chaos) checkConverged(round int, fault string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.cluster.WaitReady(ctx); err != nil {
		c.t.Fatalf("round %d (%s): %v", round, fault, err)
	}
	deadline := time.Now().Add(chaosConverge)
	var truth, got []string
	for {
		truth = c.truth()
		if s, ok := c.cc.LastState(); ok {
			got = ids(instances(s))
			if slices.Equal(got, truth) {
				return
			}
		}
		late := time.Duration(0)
		if len(truth) == 0 {
			late = chaosGrace // an empty set may be held back after an outage
		}
		if time.Now().After(deadline.Add(late)) {
			c.t.Fatalf("round %d (%s): resolver publishes %v, registry holds %v, %v after the registry answered",
				round, fault, got, truth, chaosConverge)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// truth returns the sorted ids registered under the chaos service.
func (c *chaos) truth() []string {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	const prefix = "/services/chaos/"
	resp, err := c.admin.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		c.t.Fatalf("read the registry: %v", err)
	}
	out := []string{}
	for _, kv := range resp.Kvs {
		out = append(out, strings.TrimPrefix(string(kv.Key), prefix))
	}
	slices.Sort(out)
	return out
}
