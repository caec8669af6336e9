package main

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/interceptor/ratelimit"
	"github.com/grpckit/grpckit/interceptor/stack"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
)

// The overload phase: overloadedID does overloadWork of CPU work per call
// and is sent overloadFactor times what it serves, with overloadDeadline
// deadlines.
const (
	overloadedID     = "o1"
	overloadWork     = 2 * time.Millisecond
	overloadFactor   = 3
	overloadDeadline = time.Second
)

// overloadResult is what the overload phase measured.
type overloadResult struct {
	capacity float64       // calls/s the backend served to closed-loop callers
	offered  float64       // calls/s then sent open loop
	duration time.Duration // of the open-loop part
	sent     int64
	ok       int64         // answered OK within the deadline
	shed     int64         // refused at once with ResourceExhausted
	late     int64         // DeadlineExceeded
	other    int64         // any other error
	pushback time.Duration // the retry pushback of the last shed call
	p99      time.Duration // of the calls not shed
}

// goodput is the share of the capacity answered OK in time while
// overloaded.
func (r overloadResult) goodput() float64 {
	if r.capacity <= 0 || r.duration <= 0 {
		return 0
	}
	return float64(r.ok) / (r.capacity * r.duration.Seconds())
}

// overloadPhase starts a CPU-bound backend in a process of its own (see
// startOverloaded), measures what it serves, then
// sends it overloadFactor times that, open loop (calls keep coming whatever
// the answers, as from many independent clients), and counts what became of
// the calls. The server stack's adaptive limiter (interceptor/shedding, on by
// default) has nothing configured: it finds the overload in the process's
// scheduling delay and sheds the excess at once, so the calls it admits keep
// their latency.
func (d *demo) overloadPhase(ctx context.Context, title string) (overloadResult, error) {
	var res overloadResult
	opts, err := stack.Client(stack.WithoutBreaker(), stack.WithoutRateLimit())
	if err != nil {
		return res, err
	}
	child, err := startOverloaded(overloadWork)
	if err != nil {
		return res, err
	}
	defer child.stop()
	conn, err := grpc.NewClient("passthrough:///"+child.addr, append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		return res, err
	}
	defer conn.Close()
	client := greeterv1.NewGreeterClient(conn)
	p := newPhaseStats("overload "+overloadedID, nil) // none of the registered backends
	var (
		state atomic.Value // string: what the phase is doing
		mu    sync.Mutex   // guards res while calls record into it
	)
	state.Store("measuring what it serves")
	d.view.setPhase(title, d.about("overload"), p, nil, func() string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprintf("%s   capacity %.0f calls/s   OK %d   shed %d   late %d",
			state.Load(), res.capacity, res.ok, res.shed, res.late)
	})

	// Capacity: closed-loop callers, four per CPU, each sending its next
	// call when the last one is answered; the best 100 ms of the
	// measurement counts, the one the machine's other work disturbed least.
	measure := max(d.cfg.phase/4, 500*time.Millisecond)
	const slice = 100 * time.Millisecond
	var served atomic.Int64
	mctx, cancel := context.WithTimeout(ctx, measure)
	var wg sync.WaitGroup
	for range 4 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for mctx.Err() == nil {
				if _, err := client.SayHello(mctx, &greeterv1.SayHelloRequest{Name: "demo"}); err == nil {
					served.Add(1)
				}
			}
		})
	}
	best, last := 0.0, int64(0)
	tick := time.NewTicker(slice)
	for t0 := time.Now(); mctx.Err() == nil; {
		select {
		case <-mctx.Done():
		case now := <-tick.C:
			n := served.Load()
			best, last, t0 = max(best, float64(n-last)/now.Sub(t0).Seconds()), n, now
		}
	}
	tick.Stop()
	wg.Wait()
	cancel()
	mu.Lock()
	res.capacity = best
	res.offered = overloadFactor * res.capacity
	mu.Unlock()
	if res.capacity <= 0 {
		return res, fmt.Errorf("demo: %s served no call in %v", overloadedID, measure)
	}
	d.view.event("%s does %v of CPU work per call and serves %.0f calls/s; now sending %d× that", overloadedID, overloadWork, res.capacity, overloadFactor)
	state.Store(fmt.Sprintf("sending %.0f calls/s", res.offered))

	// Overload, open loop: the calls due by now are sent every millisecond.
	open := d.cfg.phase - measure
	start := time.Now()
	var sent int64
	for elapsed := time.Duration(0); elapsed < open && ctx.Err() == nil; elapsed = time.Since(start) {
		for due := int64(elapsed.Seconds() * res.offered); sent < due; sent++ {
			wg.Go(func() { d.overloadCall(ctx, client, p, &mu, &res) })
		}
		time.Sleep(time.Millisecond)
	}
	duration := time.Since(start)
	wg.Wait() // each call ends by its deadline
	d.view.addPhase(p)
	mu.Lock()
	defer mu.Unlock()
	res.sent, res.duration = sent, duration
	res.p99 = p.latency.quantile(0.99)
	return res, ctx.Err()
}

// overloadCall sends one call of the overload phase and records its fate.
func (d *demo) overloadCall(ctx context.Context, client greeterv1.GreeterClient, p *phaseStats, mu *sync.Mutex, res *overloadResult) {
	ctx, cancel := context.WithTimeout(ctx, overloadDeadline)
	defer cancel()
	var trailer metadata.MD
	t0 := time.Now()
	_, err := client.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "demo"}, grpc.Trailer(&trailer))
	took := time.Since(t0)
	p.calls.Add(1)
	code := status.Code(err)
	if code != codes.ResourceExhausted {
		p.latency.record(took)
	}
	mu.Lock()
	defer mu.Unlock()
	switch code {
	case codes.OK:
		if took <= overloadDeadline {
			res.ok++
			return
		}
		res.late++
	case codes.ResourceExhausted:
		res.shed++
		p.limited.Add(1)
		if v := trailer.Get(ratelimit.PushbackTrailer); len(v) > 0 {
			if ms, err := strconv.Atoi(v[0]); err == nil {
				res.pushback = time.Duration(ms) * time.Millisecond
			}
		}
	case codes.DeadlineExceeded:
		res.late++
	default:
		res.other++
	}
	p.failed.Add(1)
}
