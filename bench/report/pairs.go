package report

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// WritePairs writes the runs of every judged pair of rows as two
// `go test -bench` files in dir, anchor.txt and grpckit.txt, with both sides
// of a pair renamed to Benchmark<row>/<label>, so that
//
//	benchstat anchor=dir/anchor.txt grpckit=dir/grpckit.txt
//
// compares each grpckit path with its anchor.
func WritePairs(dir string, s *Set, rows []Row) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %v", err)
	}
	var anchor, ours strings.Builder
	for _, w := range []*strings.Builder{&anchor, &ours} {
		for _, k := range []string{"goos", "goarch", "cpu"} {
			if v := s.Config[k]; v != "" {
				fmt.Fprintf(w, "%s: %s\n", k, v)
			}
		}
		w.WriteString("pkg: " + modulePrefix + "bench/pairs\n")
	}
	for _, r := range rows {
		for _, p := range r.Pairs {
			if p.Info {
				continue
			}
			name := "Benchmark" + benchName(r.ID) + "/" + benchName(p.Label)
			only := p.Unit // a pair of one metric: its other units compare unlike runs
			writeRuns(&anchor, name, only, s.Runs[Key{p.Pkg, p.Anchor}])
			writeRuns(&ours, name, only, s.Runs[Key{p.Pkg, p.Ours}])
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "anchor.txt"), []byte(anchor.String()), 0o644); err != nil {
		return fmt.Errorf("report: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "grpckit.txt"), []byte(ours.String()), 0o644); err != nil {
		return fmt.Errorf("report: %v", err)
	}
	return nil
}

// benchName turns a label into a benchmark name element: letters, digits,
// '=', '.', '+' and '-' kept, runs of anything else made one '_'.
func benchName(label string) string {
	var b strings.Builder
	under := false
	for _, c := range label {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("=.+-", c)
		switch {
		case ok:
			b.WriteRune(c)
			under = false
		case !under && b.Len() > 0:
			b.WriteByte('_')
			under = true
		}
	}
	return strings.TrimRight(b.String(), "_")
}

// writeRuns writes runs as result lines named name, units in a fixed
// order; only that unit when only is not "".
func writeRuns(w io.Writer, name, only string, runs []Run) {
	for _, r := range runs {
		fmt.Fprintf(w, "%s \t%d", name, r.Iterations)
		for _, u := range units(r) {
			if only == "" || u == only {
				fmt.Fprintf(w, "\t%g %s", r.Values[u], u)
			}
		}
		fmt.Fprintln(w)
	}
}

// units returns r's units, ns/op first, then sorted.
func units(r Run) []string {
	us := make([]string, 0, len(r.Values))
	for u := range r.Values {
		us = append(us, u)
	}
	slices.SortFunc(us, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == "ns/op":
			return -1
		case b == "ns/op":
			return 1
		}
		return strings.Compare(a, b)
	})
	return us
}
