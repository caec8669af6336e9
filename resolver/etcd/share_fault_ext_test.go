package etcd_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/internal/testutil"
	"github.com/grpckit/grpckit/registrytest"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/etcd"
)

// TestResolveNowSharedKeepsBackoff: 20 channels share a watch and each gets
// a steady stream of ResolveNow calls while etcd is down. The registry is
// asked no more often than one channel's backoff allows: the list attempts
// of every watch together stay within the ceiling the backoff schedule
// allows in the time observed.
func TestResolveNowSharedKeepsBackoff(t *testing.T) {
	const channels = 20
	cluster := registrytest.StartEtcd(t)
	cli := newClient(t, cluster.Endpoints()...)
	cluster.StopAll()
	b := kitresolver.Backoff{Base: 50 * time.Millisecond, Max: 10 * time.Second, Multiplier: 2, Jitter: 0.2}
	builder := etcd.NewBuilder(cli, etcd.WithBackoff(b), etcd.WithRequestTimeout(20*time.Millisecond))
	start := time.Now()
	rs := make([]resolver.Resolver, channels)
	for i := range rs {
		_, rs[i] = buildResolver(t, builder, "etcd:///greeter")
	}

	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				for _, r := range rs {
					r.ResolveNow(resolverNowOpts)
				}
			}
		}
	}()
	time.Sleep(2 * time.Second) // the observation window; the ceiling follows from its real length
	close(stop)
	<-stopped
	attempts, elapsed := etcd.TotalListAttempts(rs), time.Since(start)

	// Waits between attempts last at least (1-Jitter)·Base·Multiplier^i.
	// (Max is beyond the window.)
	ceiling, sum := int64(1), time.Duration(0)
	for d := time.Duration((1 - b.Jitter) * float64(b.Base)); sum+d <= elapsed; d = time.Duration(float64(d) * b.Multiplier) {
		sum += d
		ceiling++
	}
	t.Logf("%d list attempts from %d channels in %v; one channel's backoff allows at most %d", attempts, channels, elapsed.Round(time.Millisecond), ceiling)
	if attempts > ceiling {
		t.Fatalf("%d list attempts from %d channels in %v under ResolveNow calls; one channel's backoff allows at most %d", attempts, channels, elapsed, ceiling)
	}
	if attempts < 2 {
		t.Fatalf("%d list attempts in %v; want the watch to keep retrying", attempts, elapsed)
	}
}

// TestSharedWatchOutage: the etcd member 20 channels sharing a watch talk
// to loses its quorum. The watch (WithRequireLeader) fails and retries;
// every channel keeps the last good set and is never told of an error; when
// the quorum is back, a change reaches them all.
func TestSharedWatchOutage(t *testing.T) {
	const channels = 20
	cluster := registrytest.StartEtcdCluster(t, 3)
	cli := newClient(t, cluster.Endpoints()[0])
	putInstance(t, cli, "a", "127.0.0.1:1001")
	builder := etcd.NewBuilder(cli, etcd.WithBackoff(fastBackoff), etcd.WithRequestTimeout(200*time.Millisecond))
	rs := make([]resolver.Resolver, channels)
	ccs := make([]*testutil.ResolverClientConn, channels)
	for i := range rs {
		ccs[i], rs[i] = buildResolver(t, builder, "etcd:///greeter")
	}
	for _, cc := range ccs {
		waitState(t, cc, hasIDs("a"))
	}
	before := etcd.TotalListAttempts(rs)

	cluster.Stop(1)
	cluster.Stop(2)
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	for etcd.TotalListAttempts(rs) < before+2 { // two failed re-lists
		select {
		case <-ctx.Done():
			t.Fatalf("the watch did not re-list after etcd stopped (%d attempts)", etcd.TotalListAttempts(rs)-before)
		case <-time.After(10 * time.Millisecond):
		}
	}
	for i, cc := range ccs {
		if err, ok := cc.Errors.Drain(); ok {
			t.Fatalf("channel %d was told %v during the outage; want the last good set kept quietly", i, err)
		}
		if s, _ := cc.LastState(); !hasIDs("a")(instances(s)) {
			t.Fatalf("channel %d has %v during the outage, want the last good set [a]", i, ids(instances(s)))
		}
	}

	for _, i := range []int{1, 2} {
		if err := cluster.Restart(i); err != nil {
			t.Fatal(err)
		}
	}
	putInstance(t, cli, "b", "127.0.0.1:1002")
	for _, cc := range ccs {
		waitState(t, cc, hasIDs("a", "b"))
	}
}
