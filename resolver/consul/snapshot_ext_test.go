package consul_test

import (
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/internal/testutil"
	"github.com/grpckit/grpckit/registrytest"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/consul"
	"github.com/grpckit/grpckit/resolver/internal/snapshottest"
)

// TestSnapshotColdStartWhileAgentDown: a client started while the agent is
// down serves, marked stale, the instances an earlier client of the same
// target saved, while a target with other tags has no snapshot and fails
// fast; once the agent is back the client follows it again and its state is
// no longer stale.
func TestSnapshotColdStartWhileAgentDown(t *testing.T) {
	t.Parallel()
	const service = "greeter-snap"
	a := registrytest.StartConsul(t)
	cli := a.Client()
	b1 := startBackend(t, cli, service, "s1", consul.WithTags("v1"))
	b2 := startBackend(t, cli, service, "s2", consul.WithTags("v1"))
	dir := t.TempDir()
	v1 := "consul://" + a.Addr() + "/" + service + "?tag=v1"
	fast := consul.WithBackoff(kitresolver.Backoff{Base: 50 * time.Millisecond, Max: 300 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2})

	// An earlier client saves the set.
	c1, conn1 := dial(t, v1, consul.NewBuilder(consul.WithSnapshotDir(dir)))
	waitServedBy(t, c1, "s1", "s2")
	conn1.Close()
	if files, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(files) != 1 {
		t.Fatalf("snapshot files %v, want one", files)
	}

	a.Stop()
	rb := &snapshottest.RecordingBuilder{Builder: consul.NewBuilder(consul.WithSnapshotDir(dir), fast)}
	c, _ := dial(t, v1, rb)
	waitServedBy(t, c, "s1", "s2")
	if n, stale, errs := rb.Last(); n == 0 || !stale || errs != 0 {
		t.Fatalf("with the agent down: %d states, last stale %t, %d errors reported; want stale states and no error", n, stale, errs)
	}
	other, _ := dial(t, "consul://"+a.Addr()+"/"+service+"?tag=v2", consul.NewBuilder(consul.WithSnapshotDir(dir)))
	if _, err := hello(timeoutCtx(t, testutil.DefaultTimeout), other); status.Code(err) != codes.Unavailable {
		t.Fatalf("?tag=v2 with the agent down and no snapshot of its own: %v, want Unavailable", err)
	}

	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	waitService(t, cli, b1.reg.ID(), b2.reg.ID()) // the dev agent came back empty
	b3 := startBackend(t, cli, service, "s3", consul.WithTags("v1"))
	waitServedBy(t, c, "s1", "s2", "s3")
	if _, stale, _ := rb.Last(); stale {
		t.Fatal("the state is still stale after the agent answered")
	}
	snapshottest.WaitAddrs(t, filepath.Join(dir, "*tag_v1-*.json"), b1.Addr, b2.Addr, b3.Addr)
}
