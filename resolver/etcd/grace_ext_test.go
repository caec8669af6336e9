package etcd_test

import (
	"net/url"
	"testing"
	"time"

	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/internal/testutil"
	"github.com/grpckit/grpckit/registrytest"
	"github.com/grpckit/grpckit/resolver/etcd"
)

// TestRecoveryGraceHoldsEmptySet: etcd loses its quorum, the watch fails,
// and once etcd is back the service's key is gone for a moment (its lease
// expired during the outage) before the registrar writes it again. The
// channel keeps the last set meanwhile: no empty set is offered. An empty set
// that lasts past the grace is published when the grace ends.
func TestRecoveryGraceHoldsEmptySet(t *testing.T) {
	const grace = 3 * time.Second
	cluster := registrytest.StartEtcdCluster(t, 3)
	cli := newClient(t, cluster.Endpoints()...)
	resCli := newClient(t, cluster.Members()[0].Endpoint())
	const key, val = "/services/grace/a", "127.0.0.1:20001"
	if _, err := cli.Put(timeoutCtx(t, testutil.DefaultTimeout), key, val); err != nil {
		t.Fatal(err)
	}

	cc := &rejectEmptyCC{ResolverClientConn: testutil.NewResolverClientConn()}
	b := etcd.NewBuilder(resCli, etcd.WithBackoff(fastBackoff), etcd.WithRecoveryGrace(grace),
		etcd.WithRequestTimeout(time.Second))
	u, err := url.Parse("etcd:///grace")
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.Build(resolver.Target{URL: *u}, cc, resolver.BuildOptions{})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(r.Close)
	waitState(t, cc.ResolverClientConn, hasIDs("a"))
	lists, attempts := etcd.ListCount(r), etcd.ListAttempts(r)

	// Member 0 loses its leader: its watch is cancelled and the re-lists fail.
	cluster.Stop(1)
	cluster.Stop(2)
	poll(t, "the watch failing without a leader", func() bool { return etcd.ListAttempts(r) > attempts })
	for _, i := range []int{1, 2} {
		if err := cluster.Restart(i); err != nil {
			t.Fatalf("Restart(%d): %v", i, err)
		}
	}
	poll(t, "the service listed again", func() bool { return etcd.ListCount(r) > lists })

	// The key vanishes right after the outage and comes back.
	if _, err := cli.Delete(timeoutCtx(t, testutil.DefaultTimeout), key); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the deletion reaches the watch; no ordering depends on it
	if _, err := cli.Put(timeoutCtx(t, testutil.DefaultTimeout), key, val); err != nil {
		t.Fatal(err)
	}
	waitState(t, cc.ResolverClientConn, hasIDs("a"))
	if n := cc.emptyStates(); n != 0 {
		t.Fatalf("an empty set was offered %d times within the recovery grace; want it held back", n)
	}

	// Gone for longer than the grace: published once the grace ends.
	if _, err := cli.Delete(timeoutCtx(t, testutil.DefaultTimeout), key); err != nil {
		t.Fatal(err)
	}
	waitState(t, cc.ResolverClientConn, hasIDs())
}

// poll waits until cond holds, failing the test at the deadline.
func poll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(testutil.DefaultTimeout); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
