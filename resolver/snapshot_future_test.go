package resolver

import (
	"errors"
	"testing"
	"time"
)

// TestSnapshotFromTheFutureIsNotServed: a file saved at a time more than the
// maximum age ahead of the clock (a clock that was wrong when it was saved,
// or stepped back since) has no knowable age and is not loaded; a small
// step back of the clock is tolerated.
func TestSnapshotFromTheFutureIsNotServed(t *testing.T) {
	saved := time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC)
	s := newTestSnapshot(t, "t", saved)
	if err := s.Save(snapInsts); err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return saved.Add(-time.Minute) }
	if got, _, err := s.Load(); err != nil || len(got) != len(snapInsts) {
		t.Fatalf("a minute ahead of the clock: Load = %d instances, %v; want them all", len(got), err)
	}
	s.now = func() time.Time { return saved.Add(-DefaultSnapshotMaxAge - time.Second) }
	if got, _, err := s.Load(); !errors.Is(err, ErrSnapshotTooOld) || len(got) != 0 {
		t.Fatalf("saved more than the maximum age ahead of the clock: Load = %d instances, %v; want ErrSnapshotTooOld", len(got), err)
	}
}
