package lbsim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// requestTimeout bounds one request of a loopback run.
const requestTimeout = 10 * time.Second

// backends are the greeter servers of a loopback run, answering with the
// scenario's latencies from the moment start is set.
type backends struct {
	s       Scenario
	servers []*greeter.Running
	mu      sync.Mutex
	rng     *rand.Rand
	start   time.Time
}

// startBackends serves s.Backends greeters on 127.0.0.1, with IDs "0", "1"…
func startBackends(s Scenario) (*backends, error) {
	bs := &backends{s: s, rng: rand.New(rand.NewPCG(s.Seed, 11)), start: time.Now()}
	for i := range s.Backends {
		r, err := greeter.Serve(kitresolver.Instance{ID: fmt.Sprint(i), Service: "greeter", Weight: 1}, grpc.UnaryInterceptor(bs.delay(i)))
		if err != nil {
			bs.stop()
			return nil, fmt.Errorf("lbsim: %v", err)
		}
		bs.servers = append(bs.servers, r)
	}
	return bs, nil
}

func (bs *backends) stop() {
	for _, r := range bs.servers {
		r.Stop()
	}
}

// restart sets the start of the run the latencies follow.
func (bs *backends) restart() {
	bs.mu.Lock()
	bs.start = time.Now()
	bs.mu.Unlock()
}

// latency draws backend i's latency for a request arriving now.
func (bs *backends) latency(i int) time.Duration {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	return bs.s.Latency(i, time.Since(bs.start), bs.rng.Float64())
}

// delay is backend i's server interceptor: it waits the scenario's latency,
// then calls the handler.
func (bs *backends) delay(i int) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		t := time.NewTimer(bs.latency(i))
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return h(ctx, req)
	}
}

// endpoints returns the backends' endpoints.
func (bs *backends) endpoints() []resolver.Endpoint {
	insts := make([]kitresolver.Instance, len(bs.servers))
	for i, r := range bs.servers {
		insts[i] = r.Instance()
	}
	return kitresolver.Endpoints(insts)
}

// Loopback runs scenario s against real greeter servers on 127.0.0.1 through
// a client channel with policy p, in real time: requests leave on schedule
// whether or not earlier ones have answered. It returns when every request
// has answered or ctx is done.
func Loopback(ctx context.Context, s Scenario, p Policy) (Result, error) {
	bs, err := startBackends(s)
	if err != nil {
		return Result{}, err
	}
	defer bs.stop()
	client, closeConn, err := dial(bs, p)
	if err != nil {
		return Result{}, err
	}
	defer closeConn()
	keys := rand.New(rand.NewPCG(s.Seed, 13))
	if err := warmUp(ctx, client, p, keys, 4*s.Backends); err != nil {
		return Result{}, err
	}
	bs.restart()
	return openLoop(ctx, s, p, client, keys), nil
}

// dial connects to the backends through resolver/manual with policy p.
func dial(bs *backends, p Policy) (greeterv1.GreeterClient, func(), error) {
	r := manual.NewBuilderWithScheme("lbsim")
	r.InitialState(resolver.State{Endpoints: bs.endpoints()})
	cfg := p.Config
	if cfg == "" {
		cfg = "{}"
	}
	sc := fmt.Sprintf(`{"loadBalancingConfig":[{%q:%s}]}`, p.Name, cfg)
	cc, err := grpc.NewClient("lbsim:///greeter", grpc.WithResolvers(r), grpc.WithDefaultServiceConfig(sc),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, fmt.Errorf("lbsim: %v", err)
	}
	return greeterv1.NewGreeterClient(cc), func() { _ = cc.Close() }, nil
}

// warmUp makes n calls one after the other, so connections are up before
// the timed run.
func warmUp(ctx context.Context, c greeterv1.GreeterClient, p Policy, keys *rand.Rand, n int) error {
	for range n {
		if _, err := call(ctx, c, drawKey(p, keys)); err != nil {
			return fmt.Errorf("lbsim: %s: warm-up call: %v", p.Label, err)
		}
	}
	return nil
}

// call makes one SayHello call with the hash key (if any) and returns the
// answering backend's ID.
func call(ctx context.Context, c greeterv1.GreeterClient, key string) (string, error) {
	ctx, cancel := context.WithTimeout(withKey(ctx, key), requestTimeout)
	defer cancel()
	res, err := c.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "lbsim"})
	return res.GetGreeting().GetInstanceId(), err
}

// sample is one request's outcome.
type sample struct {
	id  string
	lat time.Duration
	err error
}

// openLoop sends s.Requests() requests on schedule and gathers the results.
func openLoop(ctx context.Context, s Scenario, p Policy, c greeterv1.GreeterClient, keys *rand.Rand) Result {
	out := make(chan sample, s.Requests())
	var wg sync.WaitGroup
	start := time.Now()
	for i := range s.Requests() {
		if d := time.Duration(i)*s.Interval - time.Since(start); d > 0 {
			time.Sleep(d)
		}
		if ctx.Err() != nil {
			break
		}
		key := drawKey(p, keys)
		wg.Go(func() {
			t0 := time.Now()
			id, err := call(ctx, c, key)
			out <- sample{id: id, lat: time.Since(t0), err: err}
		})
	}
	wg.Wait()
	close(out)
	return collect(s, p, out)
}

// collect turns the samples into a Result.
func collect(s Scenario, p Policy, samples <-chan sample) Result {
	r := Result{Policy: p.Label, Mode: "loopback", Served: make([]int, s.Backends)}
	var lat []time.Duration
	for sm := range samples {
		r.Requests++
		var b int
		if _, err := fmt.Sscan(sm.id, &b); sm.err != nil || err != nil || b < 0 || b >= s.Backends {
			r.Errors++
			continue
		}
		r.Served[b]++
		lat = append(lat, sm.lat)
	}
	r.summarize(lat)
	return r
}
