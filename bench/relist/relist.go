package relist

import (
	"fmt"
	"time"

	"github.com/grpckit/grpckit/internal/relist"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// Config is what a run simulates.
type Config struct {
	Processes int     // processes in the fleet
	Services  int     // services each process watches, one shared watch each
	BucketMS  float64 // width of the Series buckets, in milliseconds
	// The watchers' backoff (kitresolver.DefaultBackoff in a run).
	BaseMS, MaxMS, Multiplier, Jitter float64
	SpreadMS                          float64 // internal/relist.Spread
	OutagesMS                         []float64
}

// DefaultConfig is the run the report shows: 5,000 processes × 50 services,
// the registry back at once (a restart), after 2 s and after 10 s.
func DefaultConfig() Config {
	b := kitresolver.DefaultBackoff
	return Config{
		Processes: 5000, Services: 50, BucketMS: 10,
		BaseMS: ms(b.Base), MaxMS: ms(b.Max), Multiplier: b.Multiplier, Jitter: b.Jitter,
		SpreadMS:  ms(relist.Spread),
		OutagesMS: []float64{0, 2000, 10000},
	}
}

// Outcome is the re-lists of one strategy in one scenario.
type Outcome struct {
	PeakPerMS int     // most re-lists in one millisecond
	FirstMS   float64 // first re-list after the break
	LastMS    float64 // last re-list
	Series    []int   // re-lists per bucket of Config.BucketMS from the break
}

// Scenario is one outage, with and without the spread.
type Scenario struct {
	OutageMS float64 // how long the registry is away
	Spread   Outcome // internal/relist.Delay
	Backoff  Outcome // the backoff alone
}

// File is what bench/cmd/relist writes.
type File struct {
	Config    Config
	Scenarios []Scenario
}

// Run simulates cfg. It takes about a second per outage for the default
// configuration.
func Run(cfg Config) (*File, error) {
	if cfg.Processes <= 0 || cfg.Services <= 0 || cfg.BucketMS <= 0 {
		return nil, fmt.Errorf("relist: processes, services and bucket must be positive, got %d, %d, %v ms", cfg.Processes, cfg.Services, cfg.BucketMS)
	}
	b := kitresolver.Backoff{Base: dur(cfg.BaseMS), Max: dur(cfg.MaxMS), Multiplier: cfg.Multiplier, Jitter: cfg.Jitter}
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("relist: %w", err)
	}
	n := cfg.Processes * cfg.Services
	f := &File{Config: cfg}
	for _, o := range cfg.OutagesMS {
		back := dur(o)
		f.Scenarios = append(f.Scenarios, Scenario{
			OutageMS: o,
			Spread:   outcome(relist.Times(n, back, func(a int) time.Duration { return relist.Delay(b, a) }), cfg.BucketMS),
			Backoff:  outcome(relist.Times(n, back, b.Delay), cfg.BucketMS),
		})
	}
	return f, nil
}

func outcome(times []time.Duration, bucketMS float64) Outcome {
	peak, first, last := relist.Peak(times, time.Millisecond)
	return Outcome{PeakPerMS: peak, FirstMS: ms(first), LastMS: ms(last), Series: relist.Histogram(times, dur(bucketMS))}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func dur(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }
