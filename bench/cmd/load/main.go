// Command load runs the loopback load test of package load, the greeter with
// and without grpckit's interceptor stack, and writes the results as JSON:
//
//	go run ./bench/cmd/load -out bench/out/load.json
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/grpckit/grpckit/bench/internal/jsonfile"
	"github.com/grpckit/grpckit/bench/load"
)

func main() {
	out := flag.String("out", "load.json", "file to write the results to")
	cfg := load.Config{}
	flag.IntVar(&cfg.Concurrency, "concurrency", 32, "concurrent callers")
	flag.DurationVar(&cfg.Round, "round", 5*time.Second, "how long each variant runs per round")
	flag.IntVar(&cfg.Rounds, "rounds", 4, "rounds; the variants take turns in each")
	flag.Parse()
	if err := run(*out, cfg); err != nil {
		log.Fatal(err)
	}
}

func run(out string, cfg load.Config) error {
	limit := time.Duration(cfg.Rounds*len(load.Variants))*cfg.Round + time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	res, err := load.Run(ctx, cfg, load.Variants)
	if err != nil {
		return err
	}
	for _, r := range res {
		fmt.Fprintf(os.Stderr, "load: %-14s %8.0f QPS  p50 %6.0fµs  p99 %6.0fµs  %d errors\n", r.Variant, r.QPS, r.P50, r.P99, r.Errors)
	}
	return jsonfile.Write(out, load.File{Config: cfg, Results: res})
}
