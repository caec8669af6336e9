// Command demo shows grpckit end to end in one command, with no set-up: an
// embedded etcd, five greeter servers of different weights and zones (one
// slow, one rate-limited, one that starts failing in the outlier phase), and
// a client that drives traffic through each balancer in turn while a live
// view says what the phase shows and shows each backend's share, the
// breaker, rate-limit rejections and latency.
//
//	make demo                                 # or: go run ./examples/demo
//	go run ./examples/demo -phase 15s         # a longer run
//	go run ./examples/demo -consul 127.0.0.1:8500
//	OTEL_TRACES_EXPORTER=console go run ./examples/demo -live=false
//
// After the balancers, it opens the breaker on the failing backend, kills
// one server to show the resolver dropping it, restarts it, overloads one
// backend to show the server stack's adaptive limiter shedding the excess,
// and prints a summary table per balancer. At start it prints the address
// of its debug page (package debugz), which shows live the channel of the
// current phase (instances, endpoints' states and picks), its breakers and
// the rate-limited backend's limiter.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc/grpclog"
)

// config holds the demo's flags.
type config struct {
	phase     time.Duration // length of each phase
	rps       float64       // calls per second the client sends
	workers   int           // calls in flight at most
	baseDelay time.Duration // time every call takes on a normal backend
	slowness  int           // the slow backend is this many times slower
	limit     float64       // calls per second the rate-limited backend admits
	consul    string        // a Consul agent to use instead of an embedded etcd
	live      bool          // redraw a live view in place
}

func defaultConfig() config {
	return config{
		phase:     4 * time.Second,
		rps:       300,
		workers:   16,
		baseDelay: time.Millisecond,
		slowness:  10,
		limit:     25,
		live:      isTerminal(os.Stdout),
	}
}

func (c *config) register(fs *flag.FlagSet) {
	fs.DurationVar(&c.phase, "phase", c.phase, "length of each of the demo's phases")
	fs.Float64Var(&c.rps, "rps", c.rps, "calls per second the client sends")
	fs.IntVar(&c.workers, "workers", c.workers, "calls in flight at most")
	fs.DurationVar(&c.baseDelay, "delay", c.baseDelay, "time every call takes on a normal backend")
	fs.IntVar(&c.slowness, "slowness", c.slowness, "the slow backend is this many times slower")
	fs.Float64Var(&c.limit, "limit", c.limit, "calls per second the rate-limited backend admits")
	fs.StringVar(&c.consul, "consul", c.consul, "HTTP address of a Consul agent to use instead of an embedded etcd")
	fs.BoolVar(&c.live, "live", c.live, "redraw a live view in place (default: when stdout is a terminal)")
}

func main() {
	maybeServeOverloaded()
	cfg := defaultConfig()
	cfg.register(flag.CommandLine)
	flag.Parse()
	// The servers' and balancers' warnings (an ejection, say) would scroll
	// the live view away; the view shows what they report.
	grpclog.SetLoggerV2(grpclog.NewLoggerV2(io.Discard, io.Discard, os.Stderr))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, cfg, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// logf prints one line of the demo's narration.
func logf(w io.Writer, start time.Time, format string, args ...any) {
	fmt.Fprintf(w, "[%5.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
}
