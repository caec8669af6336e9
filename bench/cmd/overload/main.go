// Command overload runs the loopback overload run of package overload, every
// protection at every load and the capacity-halving run, and writes the
// results as JSON:
//
//	go run ./bench/cmd/overload -out bench/out/overload.json
//
// It takes about two minutes with the defaults. With -report it runs
// nothing: it reads the results of a run, draws their plots into -docs and
// prints the Overload section of docs/PERFORMANCE.md:
//
//	go run ./bench/cmd/overload -report bench/results/overload.json -docs docs
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/grpckit/grpckit/bench/internal/jsonfile"
	"github.com/grpckit/grpckit/bench/overload"
)

func main() {
	overload.MaybeServe() // a child process serving for the run
	out := flag.String("out", "overload.json", "file to write the results to")
	report := flag.String("report", "", "results to draw and print the report section of, instead of running")
	docs := flag.String("docs", "docs", "with -report, the directory to draw the plots into")
	cfg := overload.DefaultConfig
	flag.DurationVar(&cfg.Cost, "cost", cfg.Cost, "CPU work of one call")
	flag.DurationVar(&cfg.Step, "step", cfg.Step, "how long each protection runs at each load")
	flag.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "the start of each step, left out of its figures")
	flag.DurationVar(&cfg.Halving, "halving", cfg.Halving, "length of the capacity-halving run (0 skips it)")
	flag.Parse()
	if *report != "" {
		if err := writeReport(*report, *docs); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := run(*out, cfg); err != nil {
		log.Fatal(err)
	}
}

// writeReport draws the plots of the results in path into dir and prints
// the report section.
func writeReport(path, dir string) error {
	var f overload.File
	if err := jsonfile.Read(path, &f); err != nil {
		return err
	}
	if f.Halving != nil {
		f.Halving.Settle(f.Halving.Points, f.Config.Halving) // as the current code judges them
	}
	plots, err := overload.Plots(&f, dir)
	if err != nil {
		return err
	}
	fmt.Print(overload.Markdown(&f, plots))
	return nil
}

func run(out string, cfg overload.Config) error {
	limit := time.Duration(len(cfg.Loads)*len(overload.Protections))*(cfg.Step+2*cfg.Deadline) + cfg.Halving + time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	f, err := overload.Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "overload: capacity %.0f calls/s (p50 %.2fms, p99 %.2fms, %d callers)\n", f.Capacity.Rate, f.Capacity.P50, f.Capacity.P99, f.Capacity.Callers)
	for _, s := range f.Steps {
		fmt.Fprintf(os.Stderr, "overload: %-12s %.1fx  offered %6.0f/s  goodput %5.1f%%  shed %5d  late %5d  other %3d  p50 %7.2fms  p99 %7.2fms\n",
			s.Protection, s.Load, s.Offered, 100*s.GoodputShare, s.Shed, s.Late, s.Other, s.P50, s.P99)
	}
	if h := f.Halving; h != nil {
		fmt.Fprintf(os.Stderr, "overload: halving: target %.0f calls/s reached %.1fs after the switch, in band %.0f%% from then on; last third %.0f calls/s; goodput %.0f%% before, %.0f%% after\n",
			h.Target, h.ConvergedAfter, 100*h.InBand, h.SettledRate, 100*h.GoodputBefore, 100*h.GoodputAfter)
	}
	return jsonfile.Write(out, f)
}
