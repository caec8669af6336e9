package load

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/grpckit/grpckit/interceptor/ratelimit"
	"github.com/grpckit/grpckit/interceptor/stack"
	"github.com/grpckit/grpckit/interceptor/tracing"
	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// Variant is a server and client configuration under load.
type Variant struct {
	Name string
	// Options returns the server's and the client's options, and a function
	// that releases what they hold.
	Options func() ([]grpc.ServerOption, []grpc.DialOption, func(), error)
}

// Variants are the configurations the report compares: bare grpc-go, the
// stack without tracing, and the full stack with a sampling SDK tracer whose
// spans are dropped rather than exported. The stack's limiter is a per-peer
// token bucket too large to reject anything, so the run measures its cost,
// not its rejections.
var Variants = []Variant{
	{Name: "bare", Options: func() ([]grpc.ServerOption, []grpc.DialOption, func(), error) { return nil, nil, func() {}, nil }},
	{Name: "stack", Options: func() ([]grpc.ServerOption, []grpc.DialOption, func(), error) { return stackOptions(false) }},
	{Name: "stack+tracing", Options: func() ([]grpc.ServerOption, []grpc.DialOption, func(), error) { return stackOptions(true) }},
}

// dropSpans is a span processor that drops finished spans.
type dropSpans struct{}

func (dropSpans) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (dropSpans) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (dropSpans) Shutdown(context.Context) error                  { return nil }
func (dropSpans) ForceFlush(context.Context) error                { return nil }

func stackOptions(traced bool) ([]grpc.ServerOption, []grpc.DialOption, func(), error) {
	lim, err := ratelimit.NewTokenBucket(1e9, 1e6)
	if err != nil {
		return nil, nil, nil, err
	}
	common := []stack.Option{stack.WithoutTracing()}
	release := func() {}
	if traced {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithSpanProcessor(dropSpans{}))
		release = func() { _ = tp.Shutdown(context.Background()) }
		prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
		common = []stack.Option{stack.WithTracing(tracing.WithTracerProvider(tp), tracing.WithPropagators(prop))}
	}
	sopts, err := stack.Server(append([]stack.ServerOption{stack.WithLimiter(lim)}, asServer(common)...)...)
	if err != nil {
		release()
		return nil, nil, nil, err
	}
	copts, err := stack.Client(asClient(common)...)
	if err != nil {
		release()
		return nil, nil, nil, err
	}
	return sopts, copts, release, nil
}

func asServer(opts []stack.Option) []stack.ServerOption {
	out := make([]stack.ServerOption, len(opts))
	for i, o := range opts {
		out[i] = o
	}
	return out
}

func asClient(opts []stack.Option) []stack.ClientOption {
	out := make([]stack.ClientOption, len(opts))
	for i, o := range opts {
		out[i] = o
	}
	return out
}

// Config is a load run.
type Config struct {
	Concurrency int           // callers, each with one call in flight
	Round       time.Duration // how long each variant runs in a round
	Rounds      int           // rounds; every variant runs once per round
}

// File is what bench/cmd/load writes and the report reads.
type File struct {
	Config  Config
	Results []Result
}

// Result is one variant's measurements, over every round.
type Result struct {
	Variant  string
	Requests int
	Errors   int
	Seconds  float64 // time spent calling
	QPS      float64
	// P50 and P99 are latency percentiles in microseconds.
	P50, P99 float64
}

// target is one variant's server and connected client.
type target struct {
	client  greeterv1.GreeterClient
	closeFn func()
}

// start serves the greeter with v's server options on 127.0.0.1 and dials it
// with v's client options.
func start(v Variant) (*target, error) {
	sopts, copts, release, err := v.Options()
	if err != nil {
		return nil, fmt.Errorf("load: %s: %v", v.Name, err)
	}
	srv, err := greeter.Serve(kitresolver.Instance{ID: v.Name, Service: "greeter"}, sopts...)
	if err != nil {
		release()
		return nil, fmt.Errorf("load: %v", err)
	}
	cc, err := grpc.NewClient(srv.Addr, append(copts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		srv.Stop()
		release()
		return nil, fmt.Errorf("load: %v", err)
	}
	stop := func() {
		_ = cc.Close()
		srv.Stop()
		release()
	}
	return &target{client: greeterv1.NewGreeterClient(cc), closeFn: stop}, nil
}

// Run runs every variant for cfg.Rounds rounds and returns their results in
// the order of variants.
func Run(ctx context.Context, cfg Config, variants []Variant) ([]Result, error) {
	targets := make([]*target, 0, len(variants))
	defer func() {
		for _, t := range targets {
			t.closeFn()
		}
	}()
	for _, v := range variants {
		t, err := start(v)
		if err != nil {
			return nil, err
		}
		targets = append(targets, t)
	}
	acc := make([]round, len(variants))
	for range cfg.Rounds {
		for i, t := range targets {
			if err := acc[i].add(closedLoop(ctx, t.client, cfg.Concurrency, cfg.Round)); err != nil {
				return nil, err
			}
		}
	}
	out := make([]Result, len(variants))
	for i, v := range variants {
		out[i] = acc[i].result(v.Name)
	}
	return out, ctx.Err()
}

// round is what a variant's calls measured: in one round, or summed over
// every round.
type round struct {
	lat     []time.Duration
	errors  int
	elapsed time.Duration
}

// add adds round r to a; a round without one successful call is an error.
func (a *round) add(r round) error {
	if len(r.lat) == 0 {
		return fmt.Errorf("load: a round made no successful call (%d errors)", r.errors)
	}
	a.lat = append(a.lat, r.lat...)
	a.errors += r.errors
	a.elapsed += r.elapsed
	return nil
}

// result summarises a as variant name's Result.
func (a *round) result(name string) Result {
	slices.Sort(a.lat)
	r := Result{Variant: name, Requests: len(a.lat) + a.errors, Errors: a.errors, Seconds: a.elapsed.Seconds()}
	if r.Seconds > 0 {
		r.QPS = float64(len(a.lat)) / r.Seconds
	}
	r.P50, r.P99 = micros(percentile(a.lat, 0.5)), micros(percentile(a.lat, 0.99))
	return r
}

// percentile returns the q-quantile of sorted (nearest rank), 0 when empty.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(int(q*float64(len(sorted))), len(sorted)-1)]
}

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

// closedLoop calls c from n goroutines, each one call at a time, for d. The
// calls carry ctx, not the round's end: a deadline would reach the server as
// a timeout and fail the calls that straddle it.
func closedLoop(ctx context.Context, c greeterv1.GreeterClient, n int, d time.Duration) round {
	per := make([]round, n)
	var wg sync.WaitGroup
	begin := time.Now()
	until := begin.Add(d)
	for w := range per {
		wg.Go(func() { per[w] = caller(ctx, c, until) })
	}
	wg.Wait()
	r := round{elapsed: time.Since(begin)}
	for _, p := range per {
		r.lat = append(r.lat, p.lat...)
		r.errors += p.errors
	}
	return r
}

// caller calls one call at a time until the time is past until or ctx is
// done.
func caller(ctx context.Context, c greeterv1.GreeterClient, until time.Time) round {
	var r round
	req := &greeterv1.SayHelloRequest{Name: "load"}
	for ctx.Err() == nil && time.Now().Before(until) {
		t0 := time.Now()
		if _, err := c.SayHello(ctx, req); err != nil {
			r.errors++
			continue
		}
		r.lat = append(r.lat, time.Since(t0))
	}
	return r
}
