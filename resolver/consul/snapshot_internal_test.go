package consul

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestSnapshotID(t *testing.T) {
	id := func(s string) string {
		t.Helper()
		tgt, err := parseTarget(mustTarget(t, s))
		if err != nil {
			t.Fatalf("parseTarget(%q): %v", s, err)
		}
		return tgt.snapshotID()
	}
	same := [][2]string{
		{"consul://127.0.0.1:8500/greeter?tag=a&tag=b", "consul://127.0.0.1:8500/greeter?tag=b&tag=a&tag=a"},
		{"consul://127.0.0.1:8500/greeter", "consul://127.0.0.1:8500/greeter?healthy=true&near=_agent&stale=true"},
		{"consul://127.0.0.1/greeter", "consul://127.0.0.1:8500/greeter"},
	}
	for _, p := range same {
		if a, b := id(p[0]), id(p[1]); a != b {
			t.Errorf("%s and %s have snapshot ids %q and %q, want one", p[0], p[1], a, b)
		}
	}
	distinct := []string{
		"consul://127.0.0.1:8500/greeter",
		"consul://127.0.0.1:8500/greeter?tag=v1",
		"consul://127.0.0.1:8500/greeter?tag=v2",
		"consul://127.0.0.1:8500/greeter?tag=v1&tag=v2",
		"consul://127.0.0.1:8500/greeter?dc=dc2",
		"consul://127.0.0.1:8500/greeter?healthy=false",
		"consul://127.0.0.1:8501/greeter",
		"consul:///greeter",
		"consul://127.0.0.1:8500/greeter2",
	}
	seen := map[string]string{}
	for _, s := range distinct {
		got := id(s)
		if other, dup := seen[got]; dup {
			t.Errorf("%s and %s share snapshot id %q", other, s, got)
		}
		seen[got] = s
	}
}

func TestWithSnapshotDir(t *testing.T) {
	if cfg := newBuilderConfig([]Option{WithSnapshotDir("")}); cfg.err == nil || !strings.Contains(cfg.err.Error(), "WithSnapshotDir") {
		t.Errorf("WithSnapshotDir(\"\") error = %v, want one naming the option", cfg.err)
	}
	cfg := newBuilderConfig([]Option{WithSnapshotDir("rel/dir")})
	if cfg.err != nil || !filepath.IsAbs(cfg.snapshotDir) || !strings.HasSuffix(cfg.snapshotDir, filepath.Join("rel", "dir")) {
		t.Errorf("WithSnapshotDir(\"rel/dir\") = %q, %v; want it made absolute", cfg.snapshotDir, cfg.err)
	}
	b := &builder{cfg: cfg}
	tgt, _ := parseTarget(mustTarget(t, "consul://127.0.0.1:8500/greeter?tag=v1"))
	snap, err := b.snapshot(tgt)
	if err != nil || filepath.Dir(snap.Path()) != cfg.snapshotDir {
		t.Errorf("snapshot = %v, %v; want a file in %s", snap, err, cfg.snapshotDir)
	}
	if snap, err := (&builder{cfg: newBuilderConfig(nil)}).snapshot(tgt); snap != nil || err != nil {
		t.Errorf("without the option snapshot = %v, %v; want none", snap, err)
	}
}
