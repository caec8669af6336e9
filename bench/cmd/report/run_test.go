package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRun generates the report from a bench.txt and a picks.txt alone, then
// the benchstat inputs.
func TestRun(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	bench := "pkg: github.com/grpckit/grpckit/interceptor/ratelimit\n" +
		"BenchmarkPerKey/anchor=map+mutex-2 \t100\t150 ns/op\t0 allocs/op\n" +
		"BenchmarkPerKey/TokenBucket-2 \t100\t90 ns/op\t0 allocs/op\n"
	picks := "pkg: github.com/grpckit/grpckit/balancer/wrr\n" +
		"BenchmarkPick/endpoints=10/policy=round_robin-2 \t100\t30 ns/op\t0 allocs/op\n" +
		"BenchmarkPick/endpoints=10/policy=grpckit_weighted_round_robin-2 \t100\t33 ns/op\t0 allocs/op\n"
	for name, text := range map[string]string{"bench.txt": bench, "picks.txt": picks} {
		if err := os.WriteFile(filepath.Join(in, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := run(in, out, ""); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(out, "PERFORMANCE.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "| wrr, 10 endpoints, -cpu 2 | 30 ns | 33 ns | 1.10× |") {
		t.Errorf("report lacks the wrr row:\n%s", md)
	}
	if _, err := os.Stat(filepath.Join(out, "perf-pick-cost.png")); err != nil {
		t.Errorf("pick-cost plot: %v", err)
	}
	pairs := filepath.Join(t.TempDir(), "pairs")
	if err := run(in, out, pairs); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"anchor.txt", "grpckit.txt"} {
		if _, err := os.Stat(filepath.Join(pairs, f)); err != nil {
			t.Error(err)
		}
	}
}
