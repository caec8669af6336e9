package etcd_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/internal/testutil"

	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/registrytest"
	"github.com/grpckit/grpckit/resolver/etcd"
	"github.com/grpckit/grpckit/resolver/internal/snapshottest"
)

// TestSnapshotColdStartWhileEtcdDown: a client started while etcd is down
// serves, marked stale, the instances an earlier client saved; once etcd is
// back it follows the registry again and its state is no longer stale.
func TestSnapshotColdStartWhileEtcdDown(t *testing.T) {
	const service = "greeter-snap"
	cluster := registrytest.StartEtcd(t)
	eps := cluster.Endpoints()
	regCli := newClient(t, eps...)
	g1, _ := startGreeter(t, regCli, service)
	g2, _ := startGreeter(t, regCli, service)
	dir := t.TempDir()
	snapshots := filepath.Join(dir, "*"+service+"*.json")

	// An earlier client saves the set.
	c1, conn1 := dial(t, "etcd:///"+service, etcd.NewBuilder(newClient(t, eps...), etcd.WithSnapshotDir(dir)))
	waitServedBy(t, c1, g1.Addr, g2.Addr)
	conn1.Close()
	want := []string{g1.Addr, g2.Addr}
	slices.Sort(want)
	if got := snapshottest.Addrs(t, snapshots); !slices.Equal(got, want) {
		t.Fatalf("snapshot holds %v, want %v", got, want)
	}

	cluster.StopAll()
	rb := &snapshottest.RecordingBuilder{Builder: etcd.NewBuilder(newClient(t, eps...), etcd.WithSnapshotDir(dir), etcd.WithBackoff(fastBackoff))}
	c, _ := dial(t, "etcd:///"+service, rb)
	waitServedBy(t, c, g1.Addr, g2.Addr)
	if n, stale, errs := rb.Last(); n == 0 || !stale || errs != 0 {
		t.Fatalf("with etcd down: %d states, last stale %t, %d errors reported; want stale states and no error", n, stale, errs)
	}

	if err := cluster.RestartAll(); err != nil {
		t.Fatalf("RestartAll: %v", err)
	}
	g3, _ := startGreeter(t, regCli, service)
	waitServedBy(t, c, g1.Addr, g2.Addr, g3.Addr)
	if _, stale, _ := rb.Last(); stale {
		t.Fatal("the state is still stale after etcd answered")
	}
	snapshottest.WaitAddrs(t, snapshots, g1.Addr, g2.Addr, g3.Addr)
}

// TestSnapshotColdStartAfterScaleToZero: once the service scaled to zero,
// the snapshot holds no instances (the empty answer is saved although the
// balancer rejects it), so a client started while etcd is down serves none
// of the decommissioned servers: RPCs fail with Unavailable and nothing stale
// is published.
func TestSnapshotColdStartAfterScaleToZero(t *testing.T) {
	const service = "greeter-zero"
	cluster := registrytest.StartEtcd(t)
	eps := cluster.Endpoints()
	regCli := newClient(t, eps...)
	g1, reg := startGreeter(t, regCli, service)
	dir := t.TempDir()
	snapshots := filepath.Join(dir, "*"+service+"*.json")

	c1, conn1 := dial(t, "etcd:///"+service, etcd.NewBuilder(newClient(t, eps...), etcd.WithSnapshotDir(dir)))
	waitServedBy(t, c1, g1.Addr)
	snapshottest.WaitAddrs(t, snapshots, g1.Addr)
	if err := reg.Deregister(timeoutCtx(t, testutil.DefaultTimeout)); err != nil {
		t.Fatal(err)
	}
	snapshottest.WaitAddrs(t, snapshots) // the empty answer
	conn1.Close()

	cluster.StopAll()
	wantNothingServed(t, service, etcd.NewBuilder(newClient(t, eps...), etcd.WithSnapshotDir(dir), etcd.WithBackoff(fastBackoff), etcd.WithRequestTimeout(time.Second)))
}

// TestSnapshotMaxAge: a client started while etcd is down serves a snapshot
// younger than its maximum age, and nothing from an older one.
func TestSnapshotMaxAge(t *testing.T) {
	const service = "greeter-old"
	cluster := registrytest.StartEtcd(t)
	eps := cluster.Endpoints()
	regCli := newClient(t, eps...)
	g1, _ := startGreeter(t, regCli, service)
	dir := t.TempDir()
	snapshots := filepath.Join(dir, "*"+service+"*.json")
	c1, conn1 := dial(t, "etcd:///"+service, etcd.NewBuilder(newClient(t, eps...), etcd.WithSnapshotDir(dir)))
	waitServedBy(t, c1, g1.Addr)
	snapshottest.WaitAddrs(t, snapshots, g1.Addr)
	conn1.Close()
	snapshottest.Age(t, snapshots, 2*time.Hour)
	cluster.StopAll()

	// Younger than the default maximum: served, stale.
	rb := &snapshottest.RecordingBuilder{Builder: etcd.NewBuilder(newClient(t, eps...), etcd.WithSnapshotDir(dir), etcd.WithBackoff(fastBackoff))}
	c, _ := dial(t, "etcd:///"+service, rb)
	waitServedBy(t, c, g1.Addr)
	if n, stale, _ := rb.Last(); n == 0 || !stale {
		t.Fatalf("a 2h old snapshot with the default maximum age: %d states, last stale %t; want it served", n, stale)
	}
	// Older than the maximum given: nothing served.
	wantNothingServed(t, service, etcd.NewBuilder(newClient(t, eps...), etcd.WithSnapshotDir(dir), etcd.WithSnapshotMaxAge(time.Hour),
		etcd.WithBackoff(fastBackoff), etcd.WithRequestTimeout(time.Second)))
}

// wantNothingServed dials service through b, whose registry is down, and
// fails the test unless the channel reports the registry's error, RPCs fail
// with Unavailable and no state is published.
func wantNothingServed(t *testing.T, service string, b resolver.Builder) {
	t.Helper()
	rb := &snapshottest.RecordingBuilder{Builder: b}
	c, _ := dial(t, "etcd:///"+service, rb)
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	for {
		_, err := hello(ctx, c)
		n, stale, errs := rb.Last()
		if n != 0 || stale {
			t.Fatalf("with etcd down: %d states published, last stale %t (call: %v); want none", n, stale, err)
		}
		if errs > 0 && status.Code(err) == codes.Unavailable {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("with etcd down: call = %v, %d errors reported; want Unavailable after an error", err, errs)
		}
		waitShort(ctx)
	}
}

func waitShort(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(20 * time.Millisecond):
	}
}
