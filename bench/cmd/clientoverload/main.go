// Command clientoverload runs the scenario of package clientoverload (one of
// three backends fails 90 % of its calls, then heals) with no protection,
// grpckit's breaker, aegis's SRE breaker and grpckit's adaptive
// throttling, side by side, and writes the results as JSON:
//
//	go run ./bench/cmd/clientoverload -out bench/out/clientoverload.json
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/grpckit/grpckit/bench/clientoverload"
	"github.com/grpckit/grpckit/bench/internal/jsonfile"
)

func main() {
	out := flag.String("out", "clientoverload.json", "file to write the results to")
	cfg := clientoverload.DefaultConfig
	flag.Float64Var(&cfg.Rate, "rate", cfg.Rate, "calls per second per mechanism, over three backends")
	flag.DurationVar(&cfg.Failing, "failing", cfg.Failing, "how long backend 0 fails")
	flag.DurationVar(&cfg.MaxRecovery, "max-recovery", cfg.MaxRecovery, "how long to watch for recovery after the heal")
	flag.Parse()
	if err := run(*out, cfg); err != nil {
		log.Fatal(err)
	}
}

func run(out string, cfg clientoverload.Config) error {
	limit := cfg.Warmup + cfg.Failing + cfg.MaxRecovery + cfg.Deadline + 30e9
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	res, err := clientoverload.Run(ctx, cfg, clientoverload.Mechanisms)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "clientoverload: %-10s %14s %14s %15s %10s\n", "mechanism", "failing load", "healthy lost", "successes lost", "recovery")
	for _, r := range res {
		rec := r.Recovery.String()
		if r.Recovery < 0 {
			rec = fmt.Sprintf("> %v", cfg.MaxRecovery)
		}
		fmt.Fprintf(os.Stderr, "clientoverload: %-10s %13.1f%% %13.2f%% %14.2f%% %10s\n", r.Mechanism, 100*r.FailingLoad, 100*r.LostHealthy, 100*r.LostSuccesses, rec)
	}
	return jsonfile.Write(out, struct {
		Config  clientoverload.Config
		Results []clientoverload.Result
	}{cfg, res})
}
