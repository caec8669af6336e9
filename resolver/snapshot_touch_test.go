package resolver

import (
	"os"
	"slices"
	"testing"
	"time"
)

// TestSnapshotTouchNeverFreshensASetAFailedSaveReplaced: Save({a,b})
// succeeds, Save({a}) fails (a full or read-only disk for a while). Touch
// must not then rewrite {a,b} with a fresh time: the file would hold a set
// the registry replaced, made young again on every touch for as long as the
// set stays {a}. Touch writes the set last asked for instead.
func TestSnapshotTouchNeverFreshensASetAFailedSaveReplaced(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	s := newTestSnapshot(t, "t", now)
	s.now = func() time.Time { return now }
	if err := s.Save(snapInsts); err != nil {
		t.Fatal(err)
	}
	// Make writes fail: the directory becomes a regular file.
	moved := s.dir + ".moved"
	if err := os.Rename(s.dir, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(snapInsts[:1]); err == nil {
		t.Fatal("Save into a regular file succeeded")
	}
	if err := os.Remove(s.dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(moved, s.dir); err != nil {
		t.Fatal(err)
	}

	now = now.Add(time.Hour)
	if err := s.Touch(); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	got, saved, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !saved.Equal(now) {
		t.Fatalf("saved %v, want the touch's time %v", saved, now)
	}
	if !slices.EqualFunc(got, snapInsts[:1], Instance.Equal) {
		t.Fatalf("after a failed Save and a Touch the file holds %v, want the set last saved, %v", got, snapInsts[:1])
	}
	// The set on file is the one asked for: saving it again writes nothing.
	if err := s.Save(snapInsts[:1]); err != nil {
		t.Fatal(err)
	}
}
