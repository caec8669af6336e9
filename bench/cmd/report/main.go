// Command report generates docs/PERFORMANCE.md and its plots from the raw
// results scripts/bench.sh writes (package report):
//
//	go run ./bench/cmd/report -in bench/results -out docs
//
// With -pairs DIR it instead writes the judged benchmark pairs as two files
// for benchstat (DIR/anchor.txt and DIR/grpckit.txt).
package main

import (
	"bytes"
	"flag"
	"log"
	"os"
	"path/filepath"

	"github.com/grpckit/grpckit/bench/report"
)

func main() {
	in := flag.String("in", "bench/results", "directory of raw results")
	out := flag.String("out", "docs", "directory to write PERFORMANCE.md and the plots to")
	pairs := flag.String("pairs", "", "write benchstat inputs to this directory instead of the report")
	flag.Parse()
	if err := run(*in, *out, *pairs); err != nil {
		log.Fatal(err)
	}
}

func run(in, out, pairs string) error {
	inputs, err := report.Load(in)
	if err != nil {
		return err
	}
	if pairs != "" {
		return report.WritePairs(pairs, inputs.Bench, report.Rows)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	plots, err := report.Plots(out, inputs)
	if err != nil {
		return err
	}
	var md bytes.Buffer
	if err := report.Markdown(&md, inputs, plots); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "PERFORMANCE.md"), md.Bytes(), 0o644)
}
