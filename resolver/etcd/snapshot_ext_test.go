package etcd_test

import (
	"path/filepath"
	"slices"
	"testing"

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
