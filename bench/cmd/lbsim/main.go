// Command lbsim runs the slow-node scenario of package lbsim over loopback for
// every policy, one after the other, and writes the results as JSON:
//
//	go run ./bench/cmd/lbsim -out bench/out/lbsim-loopback.json
//
// The simulation on virtual time runs as a test instead (it needs a
// testing/synctest bubble):
//
//	go test ./bench/lbsim -run TestSimulation -lbsim.out=$PWD/bench/out/lbsim-sim.json
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/grpckit/grpckit/bench/internal/jsonfile"
	"github.com/grpckit/grpckit/bench/lbsim"
)

func main() {
	out := flag.String("out", "lbsim-loopback.json", "file to write the results to")
	duration := flag.Duration("duration", 30*time.Second, "length of each policy's run; the slow phase is its middle third")
	flag.Parse()
	if err := run(*out, *duration); err != nil {
		log.Fatal(err)
	}
}

func run(out string, duration time.Duration) error {
	s := lbsim.Default
	s.Duration = duration
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(len(lbsim.Policies))*(2*duration+time.Minute))
	defer cancel()
	results := make(map[string]lbsim.Result)
	for _, p := range lbsim.Policies {
		r, err := lbsim.Loopback(ctx, s, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "lbsim: %s over loopback: p50 %.2fms p99 %.2fms, %d errors, served %v\n", p.Label, r.P50, r.P99, r.Errors, r.Served)
		results[p.Label] = r
	}
	return jsonfile.Write(out, results)
}
