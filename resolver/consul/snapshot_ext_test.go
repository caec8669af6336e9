package consul_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/resolver"

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

// fastConsulBackoff keeps the cold-start tests' retries quick.
var fastConsulBackoff = consul.WithBackoff(kitresolver.Backoff{Base: 50 * time.Millisecond, Max: 300 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2})

// TestSnapshotColdStartAfterScaleToZero: once the service scaled to zero,
// the snapshot holds no instances (the empty answer is saved although the
// balancer rejects it), so a client started while the agent is down serves
// none of the decommissioned servers.
func TestSnapshotColdStartAfterScaleToZero(t *testing.T) {
	t.Parallel()
	const service = "greeter-zero"
	a := registrytest.StartConsul(t)
	cli := a.Client()
	b1 := startBackend(t, cli, service, "z1")
	dir := t.TempDir()
	tgt := "consul://" + a.Addr() + "/" + service
	snapshots := filepath.Join(dir, "*"+service+"*.json")

	c1, conn1 := dial(t, tgt, consul.NewBuilder(consul.WithSnapshotDir(dir)))
	waitServedBy(t, c1, "z1")
	snapshottest.WaitAddrs(t, snapshots, b1.Addr)
	if err := b1.reg.Deregister(timeoutCtx(t, testutil.DefaultTimeout)); err != nil {
		t.Fatal(err)
	}
	snapshottest.WaitAddrs(t, snapshots) // the empty answer
	conn1.Close()

	a.Stop()
	t.Cleanup(func() { a.Start() }) // for the backend's cleanup
	wantNothingServed(t, tgt, consul.NewBuilder(consul.WithSnapshotDir(dir), fastConsulBackoff))
}

// TestSnapshotMaxAge: a client started while the agent is down serves a
// snapshot younger than kitresolver.DefaultSnapshotMaxAge, and nothing from
// an older one.
func TestSnapshotMaxAge(t *testing.T) {
	t.Parallel()
	const service = "greeter-old"
	a := registrytest.StartConsul(t)
	b1 := startBackend(t, a.Client(), service, "o1")
	dir := t.TempDir()
	tgt := "consul://" + a.Addr() + "/" + service
	snapshots := filepath.Join(dir, "*"+service+"*.json")
	c1, conn1 := dial(t, tgt, consul.NewBuilder(consul.WithSnapshotDir(dir)))
	waitServedBy(t, c1, "o1")
	snapshottest.WaitAddrs(t, snapshots, b1.Addr)
	conn1.Close()
	a.Stop()
	t.Cleanup(func() { a.Start() }) // for the backend's cleanup

	snapshottest.Age(t, snapshots, kitresolver.DefaultSnapshotMaxAge-time.Hour)
	rb := &snapshottest.RecordingBuilder{Builder: consul.NewBuilder(consul.WithSnapshotDir(dir), fastConsulBackoff)}
	c, _ := dial(t, tgt, rb)
	waitServedBy(t, c, "o1")
	if n, stale, _ := rb.Last(); n == 0 || !stale {
		t.Fatalf("a snapshot younger than the maximum age: %d states, last stale %t; want it served", n, stale)
	}

	snapshottest.Age(t, snapshots, kitresolver.DefaultSnapshotMaxAge+time.Hour)
	wantNothingServed(t, tgt, consul.NewBuilder(consul.WithSnapshotDir(dir), fastConsulBackoff))
}

// wantNothingServed dials tgt through b, whose agent is down, and fails the
// test unless the channel reports the agent's error, RPCs fail with
// Unavailable and no state is published.
func wantNothingServed(t *testing.T, tgt string, b resolver.Builder) {
	t.Helper()
	rb := &snapshottest.RecordingBuilder{Builder: b}
	c, _ := dial(t, tgt, rb)
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	for {
		_, err := hello(ctx, c)
		n, stale, errs := rb.Last()
		if n != 0 || stale {
			t.Fatalf("with the agent down: %d states published, last stale %t (call: %v); want none", n, stale, err)
		}
		if errs > 0 && status.Code(err) == codes.Unavailable {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("with the agent down: call = %v, %d errors reported; want Unavailable after an error", err, errs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSnapshotMaxAgeOption: WithSnapshotMaxAge moves the age beyond which a
// client started while the agent is down serves nothing from its snapshot,
// both ways from the default: a 2 h old snapshot is served under a 3 h
// maximum, and not under a 1 h one.
func TestSnapshotMaxAgeOption(t *testing.T) {
	t.Parallel()
	const service = "greeter-maxage"
	a := registrytest.StartConsul(t)
	b1 := startBackend(t, a.Client(), service, "m1")
	dir := t.TempDir()
	tgt := "consul://" + a.Addr() + "/" + service
	snapshots := filepath.Join(dir, "*"+service+"*.json")
	c1, conn1 := dial(t, tgt, consul.NewBuilder(consul.WithSnapshotDir(dir), consul.WithSnapshotMaxAge(time.Hour)))
	waitServedBy(t, c1, "m1")
	snapshottest.WaitAddrs(t, snapshots, b1.Addr)
	conn1.Close()
	a.Stop()
	t.Cleanup(func() { a.Start() }) // for the backend's cleanup

	snapshottest.Age(t, snapshots, 2*time.Hour)
	rb := &snapshottest.RecordingBuilder{Builder: consul.NewBuilder(consul.WithSnapshotDir(dir), consul.WithSnapshotMaxAge(3*time.Hour), fastConsulBackoff)}
	c, _ := dial(t, tgt, rb)
	waitServedBy(t, c, "m1")
	if n, stale, _ := rb.Last(); n == 0 || !stale {
		t.Fatalf("a 2h old snapshot with WithSnapshotMaxAge(3h): %d states, last stale %t; want it served", n, stale)
	}

	snapshottest.Age(t, snapshots, 2*time.Hour)
	wantNothingServed(t, tgt, consul.NewBuilder(consul.WithSnapshotDir(dir), consul.WithSnapshotMaxAge(time.Hour), fastConsulBackoff))
}

// TestSnapshotTouchedAfterOutage: once the agent answers again after an
// outage, with the same set as before, the client goes on refreshing its
// snapshot's time, so a snapshot stays younger than its maximum age for as
// long as the agent works, however long the set does not change.
func TestSnapshotTouchedAfterOutage(t *testing.T) {
	t.Parallel()
	const service = "greeter-touch"
	const maxAge = 2 * time.Second // touched every 500 ms
	a := registrytest.StartConsul(t)
	cli := a.Client()
	b1 := startBackend(t, cli, service, "t1")
	dir := t.TempDir()
	snapshots := filepath.Join(dir, "*"+service+"*.json")
	c, _ := dial(t, "consul://"+a.Addr()+"/"+service,
		consul.NewBuilder(consul.WithSnapshotDir(dir), consul.WithSnapshotMaxAge(maxAge), fastConsulBackoff))
	waitServedBy(t, c, "t1")
	snapshottest.WaitAddrs(t, snapshots, b1.Addr)

	a.Stop()
	waitLogged(t, `keeping the last good instances: rpc error: code = Unavailable desc = consul: querying service "`+service+`"`)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	waitService(t, cli, b1.reg.ID())
	back := time.Now()
	deadline := back.Add(testutil.DefaultTimeout)
	for savedAt(t, snapshots).Before(back) {
		if time.Now().After(deadline) {
			t.Fatalf("the snapshot was saved %v ago: not touched since the agent came back with the same set", time.Since(savedAt(t, snapshots)).Round(time.Millisecond))
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitServedBy(t, c, "t1")
}

// waitLogged waits until the captured logs hold line.
func waitLogged(t *testing.T, line string) {
	t.Helper()
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	for !strings.Contains(logs.String(), line) {
		if !sleepCtx(ctx, 20*time.Millisecond) {
			t.Fatalf("not logged: %q", line)
		}
	}
}

// savedAt returns the time the one snapshot file matching pattern says it
// was saved.
func savedAt(t *testing.T, pattern string) time.Time {
	t.Helper()
	files, _ := filepath.Glob(pattern)
	if len(files) != 1 {
		t.Fatalf("snapshot files matching %s: %v, want one", pattern, files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Saved time.Time `json:"saved"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("snapshot %s: %v", files[0], err)
	}
	return f.Saved
}

// TestSnapshotOfAnotherAgentIsNotServed: two clients of consul:///<service>
// configured for different agents (two clusters, or CONSUL_HTTP_ADDR changed
// between runs), or for different datacenters, and sharing a snapshot
// directory do not share a snapshot: a client whose agent or datacenter
// cannot answer serves nothing that the other said.
func TestSnapshotOfAnotherAgentIsNotServed(t *testing.T) {
	t.Parallel()
	const service = "greeter-twoagents"
	a := registrytest.StartConsul(t)
	b1 := startBackend(t, a.Client(), service, "x1")
	dir := t.TempDir()
	tgt := "consul:///" + service
	c1, conn1 := dial(t, tgt, consul.NewBuilder(consul.WithConfig(a.Config()), consul.WithSnapshotDir(dir)))
	waitServedBy(t, c1, "x1")
	snapshottest.WaitAddrs(t, filepath.Join(dir, "*"+service+"*.json"), b1.Addr)
	conn1.Close()

	other := a.Config()
	other.Address = "127.0.0.1:1" // another agent, down
	wantNothingServed(t, tgt, consul.NewBuilder(consul.WithConfig(other), consul.WithSnapshotDir(dir), fastConsulBackoff))
	otherDC := a.Config() // the same agent, asked about a datacenter it cannot reach
	otherDC.Datacenter = "dc-other"
	wantNothingServed(t, tgt, consul.NewBuilder(consul.WithConfig(otherDC), consul.WithSnapshotDir(dir), fastConsulBackoff))
}
