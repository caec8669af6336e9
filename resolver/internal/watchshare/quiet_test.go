package watchshare

import (
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/grpclog"

	"github.com/grpckit/grpckit/internal/testutil"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// lineCounter counts the log lines that contain a phrase.
type lineCounter struct {
	phrase string
	mu     sync.Mutex
	n      int
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += strings.Count(string(p), c.phrase)
	return len(p), nil
}

func (c *lineCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// TestFailureAfterAnswerQuiet: 50 channels without snapshots share a watch
// that fails after its first answer: none is told, none logs it (the watch
// logs it once), and each keeps the answer.
func TestFailureAfterAnswerQuiet(t *testing.T) {
	c := &lineCounter{phrase: "keeping the last good instances"}
	grpclog.SetLoggerV2(grpclog.NewLoggerV2(c, c, c))
	defer grpclog.SetLoggerV2(grpclog.NewLoggerV2(os.Stderr, os.Stderr, os.Stderr))
	var g Group[string]
	var f fakeWatches
	ccs := make([]*testutil.ResolverClientConn, 50)
	for i := range ccs {
		var m *Member
		ccs[i], m = join(&g, &f, "k")
		defer m.Close()
	}
	f.hub(0).Publish(endpoints("10.0.0.1:1"))
	if f.hub(0).Fail(errors.New("registry down")) {
		t.Fatal("a failure after the answer was reported to a channel")
	}
	if n := c.count(); n != 0 {
		t.Fatalf("%d channels logged the failure; want the watch to log it once", n)
	}
	for i, cc := range ccs {
		if err, ok := cc.Errors.Drain(); ok {
			t.Fatalf("channel %d was told %v", i, err)
		}
		if got := addrsOf(cc); len(got) != 1 {
			t.Fatalf("channel %d has %v, want the answer kept", i, got)
		}
	}
}

// TestSnapshotShared: the members of a watch write its set through one
// snapshot, the first member's, so a set is written once, not per channel.
func TestSnapshotShared(t *testing.T) {
	dirs := []string{t.TempDir(), t.TempDir()}
	var g Group[string]
	var f fakeWatches
	var members []*Member
	for _, dir := range dirs {
		snap, err := kitresolver.NewSnapshot(dir, "test:k")
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, g.Join("k", testutil.NewResolverClientConn(), snap, testBackoff, f.start))
	}
	f.hub(0).Publish(endpoints("10.0.0.1:1"))
	for _, m := range members {
		m.Close() // waits for the snapshot writes
	}
	for i, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		if i == 0 {
			want = 1
		}
		if len(entries) != want {
			t.Errorf("snapshot directory %d holds %d files, want %d: the members share the first one's snapshot", i, len(entries), want)
		}
	}
}
