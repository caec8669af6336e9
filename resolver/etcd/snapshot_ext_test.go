package etcd_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/internal/testutil"
	"github.com/grpckit/grpckit/registrytest"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/etcd"
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

	// An earlier client saves the set.
	c1, conn1 := dial(t, "etcd:///"+service, etcd.NewBuilder(newClient(t, eps...), etcd.WithSnapshotDir(dir)))
	waitServedBy(t, c1, g1.Addr, g2.Addr)
	conn1.Close()
	if got := snapshotAddrs(t, dir, service); !slices.Equal(got, sorted(g1.Addr, g2.Addr)) {
		t.Fatalf("snapshot holds %v, want %v and %v", got, g1.Addr, g2.Addr)
	}

	cluster.StopAll()
	rb := &recordingBuilder{Builder: etcd.NewBuilder(newClient(t, eps...), etcd.WithSnapshotDir(dir), etcd.WithBackoff(fastBackoff))}
	c, _ := dial(t, "etcd:///"+service, rb)
	waitServedBy(t, c, g1.Addr, g2.Addr)
	if n, stale, errs := rb.last(); n == 0 || !stale || errs != 0 {
		t.Fatalf("with etcd down: %d states, last stale %t, %d errors reported; want stale states and no error", n, stale, errs)
	}

	if err := cluster.RestartAll(); err != nil {
		t.Fatalf("RestartAll: %v", err)
	}
	g3, _ := startGreeter(t, regCli, service)
	waitServedBy(t, c, g1.Addr, g2.Addr, g3.Addr)
	if _, stale, _ := rb.last(); stale {
		t.Fatal("the state is still stale after etcd answered")
	}
	want := sorted(g1.Addr, g2.Addr, g3.Addr)
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	for got := snapshotAddrs(t, dir, service); !slices.Equal(got, want); got = snapshotAddrs(t, dir, service) {
		if ctx.Err() != nil { // the resolver writes the file just after publishing
			t.Fatalf("snapshot after etcd answered holds %v, want %v", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recordingBuilder records what its resolvers tell the channel.
type recordingBuilder struct {
	resolver.Builder

	mu     sync.Mutex
	states int
	stale  bool // of the last state
	errs   int
}

func (b *recordingBuilder) Build(t resolver.Target, cc resolver.ClientConn, o resolver.BuildOptions) (resolver.Resolver, error) {
	return b.Builder.Build(t, &recordingCC{ClientConn: cc, b: b}, o)
}

// last returns how many states the channel got, whether the last was
// stale, and how many errors it got.
func (b *recordingBuilder) last() (states int, stale bool, errs int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.states, b.stale, b.errs
}

type recordingCC struct {
	resolver.ClientConn
	b *recordingBuilder
}

func (c *recordingCC) UpdateState(s resolver.State) error {
	c.b.mu.Lock()
	c.b.states++
	c.b.stale = kitresolver.IsStale(s)
	c.b.mu.Unlock()
	return c.ClientConn.UpdateState(s)
}

func (c *recordingCC) ReportError(err error) {
	c.b.mu.Lock()
	c.b.errs++
	c.b.mu.Unlock()
	c.ClientConn.ReportError(err)
}

// snapshotAddrs returns the sorted addresses in the one snapshot file of
// service in dir.
func snapshotAddrs(t *testing.T, dir, service string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*"+service+"*.json"))
	if len(files) != 1 {
		t.Fatalf("snapshot files of %s in %s: %v, want one", service, dir, files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Instances []struct{ Addr string }
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("snapshot %s: %v", files[0], err)
	}
	var addrs []string
	for _, inst := range f.Instances {
		addrs = append(addrs, inst.Addr)
	}
	return sorted(addrs...)
}

func sorted(s ...string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
