package resolver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/internal/testutil"
)

var snapInsts = []Instance{
	{ID: "a", Service: "greeter", Addr: "127.0.0.1:5001", Weight: 3, Zone: "eu-1a", Version: "1.2", Metadata: map[string]string{"k": "v"}},
	{ID: "b", Service: "greeter", Addr: "127.0.0.1:5002"},
}

// newTestSnapshot returns a snapshot of target in a fresh directory whose
// clock reads now.
func newTestSnapshot(t *testing.T, target string, now time.Time) *Snapshot {
	t.Helper()
	s, err := NewSnapshot(filepath.Join(t.TempDir(), "snaps"), target)
	if err != nil {
		t.Fatalf("NewSnapshot: %v", err)
	}
	s.now = func() time.Time { return now }
	return s
}

func TestSnapshotSaveLoad(t *testing.T) {
	saved := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	s := newTestSnapshot(t, "etcd:/services/greeter/", saved)
	if _, _, err := s.Load(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load before any Save = %v, want fs.ErrNotExist", err)
	}
	if err := s.Save(snapInsts); err != nil {
		t.Fatalf("Save: %v", err)
	}
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("file mode %v, want 0600", mode)
	}
	got, gotSaved, err := s.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if diff := cmp.Diff(snapInsts, got); diff != "" {
		t.Errorf("Load instances (-want +got):\n%s", diff)
	}
	if !gotSaved.Equal(saved) {
		t.Errorf("Load saved = %v, want %v", gotSaved, saved)
	}
	entries, _ := os.ReadDir(filepath.Dir(s.Path()))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the snapshot (no temporary file left)", len(entries))
	}

	// An unchanged set, in any order, is not written again; a changed one is.
	os.Remove(s.Path())
	if err := s.Save([]Instance{snapInsts[1], snapInsts[0]}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Path()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("unchanged set written again (stat: %v)", err)
	}
	if err := s.Save(snapInsts[:1]); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.Load(); len(got) != 1 {
		t.Errorf("after saving one instance Load returned %d", len(got))
	}
}

func TestDecodeSnapshot(t *testing.T) {
	const target = "consul://127.0.0.1:8500/greeter?healthy=true&tag=v1"
	good := `{"id":"a","service":"greeter","addr":"127.0.0.1:5001","weight":3,"zone":"z","metadata":{"k":"v"}}`
	file := func(version int, target string, insts ...string) string {
		return fmt.Sprintf(`{"version":%d,"target":%q,"saved":"2025-03-01T12:00:00Z","instances":[%s]}`, version, target, strings.Join(insts, ","))
	}
	want := []Instance{{ID: "a", Service: "greeter", Addr: "127.0.0.1:5001", Weight: 3, Zone: "z", Metadata: map[string]string{"k": "v"}}}
	tests := []struct {
		name        string
		data        string
		want        []Instance
		wantSkipped int
		wantErr     string
	}{
		{"valid", file(1, target, good), want, 0, ""},
		{"no instances", file(1, target), nil, 0, ""},
		{"null instances", `{"version":1,"target":"` + target + `","instances":null}`, nil, 0, ""},
		{"unknown fields ignored", `{"version":1,"target":"` + target + `","extra":1,"instances":[` + good + `]}`, want, 0, ""},
		{"empty file", "", nil, 0, "not a snapshot"},
		{"truncated", file(1, target, good)[:40], nil, 0, "not a snapshot"},
		{"not an object", `[1,2]`, nil, 0, "not a snapshot"},
		{"newer version", file(2, target, good), nil, 0, "format version 2, want 1"},
		{"no version", `{"target":"` + target + `","instances":[` + good + `]}`, nil, 0, "format version 0, want 1"},
		{"other target", file(1, "consul://127.0.0.1:8500/greeter?healthy=true&tag=v2", good), nil, 0, "holds target"},
		{"bad instances skipped", file(1, target,
			`{"id":"w","service":"greeter","addr":"127.0.0.1:1","weight":10001}`,
			`{"id":"n","service":"greeter","addr":"127.0.0.1:1","weight":-1}`,
			`{"id":"e","service":"greeter","addr":""}`,
			`{"id":"p","service":"greeter","addr":"127.0.0.1"}`,
			`{"id":"s","service":"a/b","addr":"127.0.0.1:1"}`,
			`{"id":"x/y","service":"greeter","addr":"127.0.0.1:1"}`,
			`"127.0.0.1:1"`,
			`{"id":"m","service":"greeter","addr":"127.0.0.1:1","metadata":{"k":1}}`,
			good), want, 8, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, skipped, err := decodeSnapshot(target, []byte(tt.data))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("decodeSnapshot error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeSnapshot: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("instances (-want +got):\n%s", diff)
			}
			if len(skipped) != tt.wantSkipped {
				t.Errorf("skipped %d (%v), want %d", len(skipped), skipped, tt.wantSkipped)
			}
		})
	}
}

func TestSnapshotLoadRefusesOversizedFile(t *testing.T) {
	s := newTestSnapshot(t, "t", time.Now())
	if err := s.Save(snapInsts); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, maxSnapshotSize+1)
	for i := range big {
		big[i] = ' '
	}
	if err := os.WriteFile(s.Path(), big, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Load(); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Load of an oversized file = %v, want a size error", err)
	}
}

func TestSnapshotFileName(t *testing.T) {
	dir := t.TempDir()
	targets := []string{
		"etcd:/services/greeter/",
		"consul://127.0.0.1:8500/greeter?healthy=true&tag=v1",
		"consul://127.0.0.1:8500/greeter?healthy=true&tag=v2",
		"../../etc/passwd",
		"..",
		".",
		"/",
		`..\..\windows`,
		"a\x00b",
		"über/服务",
		strings.Repeat("x/", 500),
	}
	seen := map[string]string{}
	for _, target := range targets {
		s, err := NewSnapshot(dir, target)
		if err != nil {
			t.Fatalf("NewSnapshot(%q): %v", target, err)
		}
		name := filepath.Base(s.Path())
		if filepath.Dir(s.Path()) != dir {
			t.Errorf("target %q: path %q is not directly in %q", target, s.Path(), dir)
		}
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".json") || len(name) > maxReadableName+1+16+len(".json") {
			t.Errorf("target %q: file name %q", target, name)
		}
		if i := strings.IndexFunc(name, func(r rune) bool { return !isNameChar(r) }); i >= 0 {
			t.Errorf("target %q: file name %q has unsafe character %q", target, name, name[i])
		}
		if other, dup := seen[name]; dup {
			t.Errorf("targets %q and %q share file %q", other, target, name)
		}
		seen[name] = target
	}
	if _, err := NewSnapshot("", "t"); err == nil {
		t.Error("NewSnapshot with no directory succeeded")
	}
	if _, err := NewSnapshot(dir, ""); err == nil {
		t.Error("NewSnapshot with no target succeeded")
	}
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	t.Cleanup(cancel)
	return ctx
}

// stateInstances returns the Instances a state carries, in endpoint order.
func stateInstances(s resolver.State) []Instance {
	var out []Instance
	for _, ep := range s.Endpoints {
		inst, _ := InstanceFrom(ep)
		out = append(out, inst)
	}
	return out
}

// savedSnapshot returns a snapshot holding insts.
func savedSnapshot(t *testing.T, insts []Instance) *Snapshot {
	t.Helper()
	s := newTestSnapshot(t, "etcd:/services/greeter/", time.Now())
	if err := s.Save(insts); err != nil {
		t.Fatal(err)
	}
	return s
}

// wantSaved waits for p's queued writes and fails the test unless its
// snapshot holds want.
func wantSaved(t *testing.T, p *Publisher, want []Instance) {
	t.Helper()
	p.flush()
	got, _, err := p.snap.Load()
	if err != nil {
		t.Fatalf("loading the snapshot: %v", err)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("snapshot (-want +got):\n%s", diff)
	}
}

func TestPublisherSnapshotServesOnFail(t *testing.T) {
	cc := testutil.NewResolverClientConn()
	p := newPublisher(cc, savedSnapshot(t, snapInsts), time.Hour)
	defer p.Close()

	if p.Fail(errors.New("registry down")) {
		t.Fatal("Fail reported the error although a snapshot could be served")
	}
	s, err := cc.States.Receive(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if !IsStale(s) || !p.Stale() || p.Published() {
		t.Fatalf("IsStale = %t, Stale = %t, Published = %t; want true, true, false", IsStale(s), p.Stale(), p.Published())
	}
	if diff := cmp.Diff(snapInsts, stateInstances(s)); diff != "" {
		t.Errorf("served instances (-want +got):\n%s", diff)
	}
	if p.Fail(errors.New("still down")) {
		t.Error("a second Fail reported the error while the snapshot is served")
	}
	if _, ok := cc.Errors.Drain(); ok {
		t.Error("an error reached the channel while the snapshot is served")
	}
	if _, ok := cc.States.Drain(); ok {
		t.Error("a second Fail published again")
	}

	fresh := []Instance{{ID: "c", Service: "greeter", Addr: "127.0.0.1:5003"}}
	if err := p.Publish(fresh); err != nil {
		t.Fatal(err)
	}
	s, _ = cc.States.Receive(testCtx(t))
	if IsStale(s) || p.Stale() || !p.Published() {
		t.Fatalf("after the answer IsStale = %t, Stale = %t, Published = %t; want false, false, true", IsStale(s), p.Stale(), p.Published())
	}
	if diff := cmp.Diff(fresh, stateInstances(s)); diff != "" {
		t.Errorf("answer's instances (-want +got):\n%s", diff)
	}
	wantSaved(t, p, fresh)
}

func TestPublisherSnapshotServesAfterGrace(t *testing.T) {
	cc := testutil.NewResolverClientConn()
	p := newPublisher(cc, savedSnapshot(t, snapInsts), 10*time.Millisecond)
	s, err := cc.States.Receive(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if !IsStale(s) || len(s.Endpoints) != len(snapInsts) {
		t.Fatalf("state after the grace: stale %t, %d endpoints; want stale with %d", IsStale(s), len(s.Endpoints), len(snapInsts))
	}
	p.Close() // waits for the timer's function
	p.Close()
}

func TestPublisherSnapshotNeverOverridesAnswer(t *testing.T) {
	cc := testutil.NewResolverClientConn()
	p := newPublisher(cc, savedSnapshot(t, snapInsts), time.Hour)
	defer p.Close()
	if err := p.Publish(nil); err != nil { // the registry really has none
		t.Fatal(err)
	}
	p.graceExpired() // as if the timer fired just after the answer
	if p.Fail(errors.New("registry down")) {
		t.Error("Fail after an answer reported the error")
	}
	s, err := cc.States.Receive(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if extra, more := cc.States.Drain(); more {
		t.Fatalf("a state followed the answer: stale %t, %v", IsStale(extra), stateInstances(extra))
	}
	if IsStale(s) || len(s.Endpoints) != 0 || p.loaded {
		t.Fatalf("last state stale %t with %d endpoints (snapshot read: %t); want the empty answer", IsStale(s), len(s.Endpoints), p.loaded)
	}
	wantSaved(t, p, nil)
}

// TestPublisherSnapshotGraceRacesAnswer: however the grace timer and the
// registry's answer interleave, the channel ends with the answer.
func TestPublisherSnapshotGraceRacesAnswer(t *testing.T) {
	snap := savedSnapshot(t, snapInsts)
	fresh := []Instance{{ID: "c", Service: "greeter", Addr: "127.0.0.1:5003"}}
	served := 0
	for i := range 50 {
		cc := testutil.NewResolverClientConn()
		p := newPublisher(cc, snap, time.Duration(i%5)*50*time.Microsecond)
		time.Sleep(time.Duration(i%7) * 30 * time.Microsecond)
		if err := p.Publish(fresh); err != nil {
			t.Fatal(err)
		}
		p.Close()
		if p.loaded {
			served++
		}
		s, _ := cc.LastState()
		if IsStale(s) || !cmp.Equal(fresh, stateInstances(s)) {
			t.Fatalf("round %d: channel ends with stale %t %v, want the answer", i, IsStale(s), stateInstances(s))
		}
	}
	t.Logf("the snapshot was served before the answer in %d of 50 rounds", served)
}

func TestPublisherSnapshotNothingToServe(t *testing.T) {
	corrupt := newTestSnapshot(t, "t", time.Now())
	if err := os.MkdirAll(filepath.Dir(corrupt.Path()), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(corrupt.Path(), []byte(`{"version":1,`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		snap *Snapshot
	}{
		{"no snapshot configured", nil},
		{"no file yet", newTestSnapshot(t, "t", time.Now())},
		{"corrupt file", corrupt},
		{"no instances saved", savedSnapshot(t, nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := testutil.NewResolverClientConn()
			p := newPublisher(cc, tt.snap, time.Hour)
			defer p.Close()
			boom := errors.New("registry down")
			if !p.Fail(boom) {
				t.Fatal("Fail did not report the error")
			}
			if err, _ := cc.Errors.Receive(testCtx(t)); !errors.Is(err, boom) {
				t.Fatalf("channel got error %v, want %v", err, boom)
			}
			if _, ok := cc.States.Drain(); ok {
				t.Fatal("a state was published")
			}
			if err := p.Publish(snapInsts); err != nil {
				t.Fatal(err)
			}
			if s, _ := cc.States.Receive(testCtx(t)); IsStale(s) || len(s.Endpoints) != len(snapInsts) {
				t.Fatalf("answer published stale %t with %d endpoints", IsStale(s), len(s.Endpoints))
			}
		})
	}
}

func TestPublisherPublishEndpointsSaves(t *testing.T) {
	cc := testutil.NewResolverClientConn()
	snap := newTestSnapshot(t, "t", time.Now())
	p := newPublisher(cc, snap, time.Hour)
	defer p.Close()
	if err := p.PublishEndpoints(Endpoints(snapInsts)); err != nil {
		t.Fatal(err)
	}
	wantSaved(t, p, snapInsts)

	// A rejected state is not saved.
	cc.SetUpdateStateErr(errors.New("rejected"))
	if err := p.PublishEndpoints(Endpoints(snapInsts[:1])); err == nil {
		t.Fatal("PublishEndpoints hid the channel's error")
	}
	wantSaved(t, p, snapInsts)
}

func TestSnapshotWriteFailureNeverAffectsResolution(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	snap, err := NewSnapshot(blocker, "t") // the directory is a regular file
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	snap.now = func() time.Time { return now }
	cc := testutil.NewResolverClientConn()
	p := newPublisher(cc, snap, time.Hour)
	defer p.Close()
	for i := range 3 {
		if err := p.Publish(snapInsts[:i%2+1]); err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
		p.flush()
		if s, _ := cc.States.Receive(testCtx(t)); len(s.Endpoints) != i%2+1 || IsStale(s) {
			t.Fatalf("Publish %d: state with %d endpoints, stale %t", i, len(s.Endpoints), IsStale(s))
		}
	}
	if snap.suppressed != 2 {
		t.Errorf("%d failed writes held back from the log, want 2 (one line per interval)", snap.suppressed)
	}
	now = now.Add(snapshotLogInterval)
	snap.warnSaveFailed(errors.New("again"))
	if snap.suppressed != 0 {
		t.Errorf("after an interval %d failures still held back, want the line logged", snap.suppressed)
	}
}

// BenchmarkSnapshotSave measures one write of a changed 100-instance set, the
// cost a resolver with a snapshot pays after each change it publishes, beside
// building the endpoints of the same set, which every publish pays.
func BenchmarkSnapshotSave(b *testing.B) {
	insts := make([]Instance, 100)
	for i := range insts {
		insts[i] = Instance{ID: fmt.Sprint(i), Service: "greeter", Addr: fmt.Sprintf("10.0.%d.%d:50051", i/250, i%250), Weight: 3, Zone: "eu-1a"}
	}
	b.Run("Save", func(b *testing.B) {
		s, err := NewSnapshot(b.TempDir(), "etcd:/services/greeter/")
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			insts[0].Weight = uint32(i%MaxWeight) + 1 // a changed set is written
			if err := s.Save(insts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Endpoints", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Endpoints(insts)
		}
	})
}

// TestPublisherSnapshotWritesNewestSet: however a burst of publishes is
// coalesced, the file ends with the newest set.
func TestPublisherSnapshotWritesNewestSet(t *testing.T) {
	cc := testutil.NewResolverClientConn()
	snap := newTestSnapshot(t, "t", time.Now())
	p := newPublisher(cc, snap, time.Hour)
	var last []Instance
	for i := range 200 {
		last = []Instance{{ID: "a", Service: "greeter", Addr: "127.0.0.1:5001", Weight: uint32(i + 1)}}
		if err := p.Publish(last); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	wantSaved(t, p, last)
}

// TestPublisherSavesEmptyAnswer: the registry's empty answer replaces the
// snapshot's set even though the channel rejects it, as real balancers do
// with an empty list, so a later cold start does not serve servers that are
// gone. A rejected non-empty set is still not saved.
func TestPublisherSavesEmptyAnswer(t *testing.T) {
	for _, viaEndpoints := range []bool{false, true} {
		t.Run(fmt.Sprintf("PublishEndpoints=%t", viaEndpoints), func(t *testing.T) {
			cc := testutil.NewResolverClientConn()
			p := newPublisher(cc, newTestSnapshot(t, "t", time.Now()), time.Hour)
			defer p.Close()
			publish := func(insts []Instance) error {
				if viaEndpoints {
					return p.PublishEndpoints(Endpoints(insts))
				}
				return p.Publish(insts)
			}
			if err := publish(snapInsts); err != nil {
				t.Fatal(err)
			}
			wantSaved(t, p, snapInsts)
			cc.SetUpdateStateErr(balancer.ErrBadResolverState)
			if err := publish(snapInsts[:1]); err == nil {
				t.Fatal("the channel's error was hidden")
			}
			wantSaved(t, p, snapInsts)
			if err := publish(nil); err == nil {
				t.Fatal("the channel's error was hidden")
			}
			wantSaved(t, p, nil)

			// A cold start now serves nothing and reports the registry's error.
			cold := testutil.NewResolverClientConn()
			q := newPublisher(cold, p.snap, time.Hour)
			defer q.Close()
			if !q.Fail(errors.New("registry down")) || q.Stale() {
				t.Fatalf("cold start after an empty answer: stale %t; want the error reported, nothing served", q.Stale())
			}
		})
	}
}

func TestSnapshotMaxAge(t *testing.T) {
	saved := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	s := newTestSnapshot(t, "t", saved)
	if s.MaxAge() != DefaultSnapshotMaxAge {
		t.Errorf("default MaxAge %v, want %v", s.MaxAge(), DefaultSnapshotMaxAge)
	}
	if err := s.Save(snapInsts); err != nil {
		t.Fatal(err)
	}
	for _, maxAge := range []time.Duration{time.Minute, DefaultSnapshotMaxAge} {
		var opts []SnapshotOption
		if maxAge != DefaultSnapshotMaxAge {
			opts = append(opts, SnapshotMaxAge(maxAge))
		}
		r, err := NewSnapshot(filepath.Dir(s.Path()), "t", opts...)
		if err != nil {
			t.Fatal(err)
		}
		r.now = func() time.Time { return saved.Add(maxAge) }
		if got, _, err := r.Load(); err != nil || len(got) != len(snapInsts) {
			t.Errorf("max age %v: Load at that age = %d instances, %v; want them all", maxAge, len(got), err)
		}
		r.now = func() time.Time { return saved.Add(maxAge + time.Second) }
		if got, _, err := r.Load(); !errors.Is(err, ErrSnapshotTooOld) || len(got) != 0 || !strings.Contains(err.Error(), "maximum age "+maxAge.String()) {
			t.Errorf("max age %v: Load a second later = %d instances, %v; want ErrSnapshotTooOld naming the maximum", maxAge, len(got), err)
		}

		// A Publisher does not serve it.
		cc := testutil.NewResolverClientConn()
		p := newPublisher(cc, r, time.Hour)
		if !p.Fail(errors.New("registry down")) || p.Stale() {
			t.Errorf("max age %v: a Publisher served a snapshot older than that", maxAge)
		}
		p.Close()
	}
	for _, bad := range []time.Duration{0, -time.Second} {
		if _, err := NewSnapshot(t.TempDir(), "t", SnapshotMaxAge(bad)); err == nil || !strings.Contains(err.Error(), "maximum age") {
			t.Errorf("SnapshotMaxAge(%v): NewSnapshot error %v, want one naming the maximum age", bad, err)
		}
	}
}

// TestPublisherTouchesSnapshot: while the registry answers, a Publisher keeps
// its snapshot's age well below the maximum even when the set never changes;
// after a Fail it stops, so the file ages out if the registry stays down.
func TestPublisherTouchesSnapshot(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		const maxAge = time.Hour
		snap, err := NewSnapshot(dir, "t", SnapshotMaxAge(maxAge))
		if err != nil {
			t.Fatal(err)
		}
		reader, _ := NewSnapshot(dir, "t", SnapshotMaxAge(maxAge))
		p := newPublisher(testutil.NewResolverClientConn(), snap, time.Minute)
		if err := p.Publish(snapInsts); err != nil {
			t.Fatal(err)
		}
		p.flush()
		for range 10 { // ten maximum ages with an unchanged set
			time.Sleep(maxAge / 2)
			synctest.Wait()
			if _, saved, err := reader.Load(); err != nil || time.Since(saved) > touchInterval(maxAge) {
				t.Fatalf("snapshot saved %v ago (%v) while the registry answers; want at most %v", time.Since(saved), err, touchInterval(maxAge))
			}
		}
		p.Fail(errors.New("registry down"))
		time.Sleep(maxAge + touchInterval(maxAge))
		synctest.Wait()
		if _, _, err := reader.Load(); !errors.Is(err, ErrSnapshotTooOld) {
			t.Fatalf("Load a maximum age after the registry failed = %v, want ErrSnapshotTooOld", err)
		}
		p.Close()
	})
}
