// Command relist runs the virtual-time re-list simulation of package
// bench/relist, a fleet whose registry watches all break at once, and
// writes the results as JSON:
//
//	go run ./bench/cmd/relist -out bench/out/relist.json
package main

import (
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/grpckit/grpckit/bench/internal/jsonfile"
	"github.com/grpckit/grpckit/bench/relist"
)

func main() {
	out := flag.String("out", "relist.json", "file to write the results to")
	cfg := relist.DefaultConfig()
	flag.IntVar(&cfg.Processes, "processes", cfg.Processes, "processes in the fleet")
	flag.IntVar(&cfg.Services, "services", cfg.Services, "services each process watches")
	flag.Parse()
	if err := run(*out, cfg); err != nil {
		log.Fatal(err)
	}
}

func run(out string, cfg relist.Config) error {
	f, err := relist.Run(cfg)
	if err != nil {
		return err
	}
	for _, s := range f.Scenarios {
		fmt.Fprintf(os.Stderr, "relist: registry back after %5.0f ms: peak %5d re-lists/ms with the spread, %5d with the backoff alone\n",
			s.OutageMS, s.Spread.PeakPerMS, s.Backoff.PeakPerMS)
	}
	return jsonfile.Write(out, f)
}
