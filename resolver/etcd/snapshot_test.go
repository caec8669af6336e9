package etcd

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

func TestWithSnapshotDir(t *testing.T) {
	if err := newConfig([]Option{WithSnapshotDir("")}).validate(); err == nil || !strings.Contains(err.Error(), "WithSnapshotDir") {
		t.Errorf("WithSnapshotDir(\"\") validates to %v, want an error naming the option", err)
	}
	cfg := newConfig([]Option{WithSnapshotDir("rel/dir")})
	if err := cfg.validate(); err != nil || !filepath.IsAbs(cfg.snapshotDir) || !strings.HasSuffix(cfg.snapshotDir, filepath.Join("rel", "dir")) {
		t.Errorf("WithSnapshotDir(\"rel/dir\") = %q, %v; want it made absolute", cfg.snapshotDir, err)
	}

	if snap, err := (&builder{cfg: newConfig(nil)}).snapshot("greeter"); snap != nil || err != nil {
		t.Errorf("without the option snapshot = %v, %v; want none", snap, err)
	}
	dir := t.TempDir()
	paths := map[string]string{}
	for _, c := range []struct {
		prefix, service string
	}{{DefaultPrefix, "greeter"}, {DefaultPrefix, "greeter2"}, {"/other/", "greeter"}, {"", "greeter"}} {
		b := &builder{cfg: newConfig([]Option{WithSnapshotDir(dir), WithPrefix(c.prefix)})}
		snap, err := b.snapshot(c.service)
		if err != nil {
			t.Fatalf("snapshot(%s%s): %v", c.prefix, c.service, err)
		}
		if filepath.Dir(snap.Path()) != dir {
			t.Errorf("snapshot of %s%s at %s, want it in %s", c.prefix, c.service, snap.Path(), dir)
		}
		if other, dup := paths[snap.Path()]; dup {
			t.Errorf("%s%s and %s share %s", c.prefix, c.service, other, snap.Path())
		}
		paths[snap.Path()] = c.prefix + c.service
	}
}

func TestWithSnapshotMaxAge(t *testing.T) {
	for _, bad := range []time.Duration{0, -time.Minute} {
		if err := newConfig([]Option{WithSnapshotMaxAge(bad)}).validate(); err == nil || !strings.Contains(err.Error(), "WithSnapshotMaxAge") {
			t.Errorf("WithSnapshotMaxAge(%v) validates to %v, want an error naming the option", bad, err)
		}
	}
	dir := t.TempDir()
	for _, c := range []struct {
		opts []Option
		want time.Duration
	}{
		{[]Option{WithSnapshotDir(dir)}, kitresolver.DefaultSnapshotMaxAge},
		{[]Option{WithSnapshotDir(dir), WithSnapshotMaxAge(time.Hour)}, time.Hour},
	} {
		snap, err := (&builder{cfg: newConfig(c.opts)}).snapshot("greeter")
		if err != nil || snap.MaxAge() != c.want {
			t.Errorf("snapshot max age = %v (%v), want %v", snap.MaxAge(), err, c.want)
		}
	}
}
