package overload

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
)

// call is one call's outcome.
type call struct {
	at      time.Duration // when it was sent, since the start of the drive
	latency time.Duration
	code    codes.Code
}

// drive sends calls to c open loop, as Poisson arrivals at rate per second,
// for d, each with deadline, and returns their outcomes once all have ended.
// rate may change while it runs through rateOf, read at every arrival.
func drive(ctx context.Context, c greeterv1.GreeterClient, rateOf func(time.Duration) float64, d, deadline time.Duration, seed uint64) []call {
	rng := rand.New(rand.NewPCG(seed, 1))
	var (
		mu    sync.Mutex
		calls []call
		wg    sync.WaitGroup
	)
	start := time.Now()
	next := time.Duration(0)
	for next < d && ctx.Err() == nil {
		if wait := next - time.Since(start); wait > 0 {
			time.Sleep(wait)
		}
		at := next
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, deadline)
			defer cancel()
			t := time.Now()
			_, err := c.SayHello(cctx, &greeterv1.SayHelloRequest{Name: "overload"})
			r := call{at: at, latency: time.Since(t), code: status.Code(err)}
			mu.Lock()
			calls = append(calls, r)
			mu.Unlock()
		})
		next += time.Duration(rng.ExpFloat64() / rateOf(next) * float64(time.Second))
	}
	wg.Wait()
	return calls
}

// closedLoop runs n callers that each send the next call when the last one
// ends, for d, and returns the calls that succeeded per second and their
// latencies.
func closedLoop(ctx context.Context, c greeterv1.GreeterClient, n int, d time.Duration) (float64, []time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu   sync.Mutex
		lats []time.Duration
		wg   sync.WaitGroup
	)
	start := time.Now()
	for range n {
		wg.Go(func() {
			var mine []time.Duration
			for ctx.Err() == nil {
				t := time.Now()
				if _, err := c.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "capacity"}); err == nil {
					mine = append(mine, time.Since(t))
				}
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return float64(len(lats)) / time.Since(start).Seconds(), lats
}
