package clientoverload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kratos/aegis/circuitbreaker"
	"github.com/go-kratos/aegis/circuitbreaker/sre"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/interceptor/breaker"
	"github.com/grpckit/grpckit/interceptor/retrybudget"
	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// Config is a run's shape.
type Config struct {
	Rate        float64       // calls per second per mechanism, over the three backends
	Warmup      time.Duration // all healthy
	Failing     time.Duration // backend 0 fails FailShare of its calls
	MaxRecovery time.Duration // how long to wait for recovery after the heal
	FailShare   float64
	Deadline    time.Duration
}

// DefaultConfig is the run make bench does.
var DefaultConfig = Config{
	Rate: 300, Warmup: 3 * time.Second, Failing: 20 * time.Second,
	MaxRecovery: 60 * time.Second, FailShare: 0.9, Deadline: time.Second,
}

// Mechanisms are the protections compared, by name: throttle_<window> is
// adaptive throttling with that window instead of the default.
// "retry" is gRPC's own retries (service config retryPolicy, 3 attempts on
// Unavailable) and "retrybudget" the same policy through
// retrybudget.Budget's interceptor with its default budget.
var Mechanisms = []string{"none", "breaker", "aegis_sre", "throttle", "throttle_5s", "throttle_10s", "retry", "retrybudget"}

const retryServiceConfig = `{"methodConfig":[{"name":[{"service":"greeter.v1.Greeter"}],"retryPolicy":{
	"maxAttempts":3,"initialBackoff":"0.05s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}}]}`

// Result is one mechanism's measurements.
type Result struct {
	Mechanism string
	// FailingLoad is the calls that reached backend 0 while it failed,
	// retries included, as a share of the calls aimed at it (1 without
	// protection).
	FailingLoad float64
	// LostHealthy is the share of the calls to backends 1 and 2 that did
	// not succeed while backend 0 failed.
	LostHealthy float64
	// LostSuccesses is the share of the successes the three backends would
	// have given while backend 0 failed (all of 1 and 2's, 1 − FailShare
	// of 0's) that the caller did not get.
	LostSuccesses float64
	// Recovery is the time from the heal until at most 10 % of the calls
	// aimed at backend 0 are refused over a second; -1 if not within
	// MaxRecovery.
	Recovery time.Duration
	// Timeline is, per 250 ms, the share of calls aimed at backend 0 that
	// reached it.
	Timeline []float64
}

const tick = 250 * time.Millisecond

// backend is a greeter that fails a share of its calls while failing is
// set, and counts the calls that reach it.
type backend struct {
	srv     *greeter.Running
	failing atomic.Bool
	share   float64
	arrived atomic.Int64
}

func startBackend(share float64) (*backend, error) {
	b := &backend{share: share}
	fail := grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		b.arrived.Add(1)
		if b.failing.Load() && rand.Float64() < b.share {
			return nil, status.Error(codes.Unavailable, "backend failing")
		}
		return h(ctx, req)
	})
	srv, err := greeter.Serve(kitresolver.Instance{}, fail)
	b.srv = srv
	return b, err
}

// client is one mechanism's three channels.
type client struct {
	conns [3]*grpc.ClientConn
	stubs [3]greeterv1.GreeterClient
}

func dialOptions(mechanism string) ([]grpc.DialOption, error) {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	switch window, isThrottle := strings.CutPrefix(mechanism, "throttle_"); {
	case isThrottle:
		w, err := time.ParseDuration(window)
		if err != nil {
			return nil, fmt.Errorf("clientoverload: mechanism %q: %v", mechanism, err)
		}
		t, err := breaker.NewThrottle(breaker.Throttling{Window: w}, breaker.WithKey(breaker.ByTarget))
		if err != nil {
			return nil, err
		}
		opts = append(opts, grpc.WithUnaryInterceptor(t.UnaryClientInterceptor()))
	case mechanism == "retry":
		opts = append(opts, grpc.WithDefaultServiceConfig(retryServiceConfig))
	case mechanism == "retrybudget":
		b, err := retrybudget.New()
		if err != nil {
			return nil, err
		}
		opts = append(opts, grpc.WithDisableRetry(), grpc.WithUnaryInterceptor(b.UnaryClientInterceptor()))
	case mechanism == "none":
	case mechanism == "breaker":
		g, err := breaker.New(breaker.WithKey(breaker.ByTarget))
		if err != nil {
			return nil, err
		}
		opts = append(opts, grpc.WithUnaryInterceptor(g.UnaryClientInterceptor()))
	case mechanism == "throttle":
		t, err := breaker.NewThrottle(breaker.Throttling{}, breaker.WithKey(breaker.ByTarget))
		if err != nil {
			return nil, err
		}
		opts = append(opts, grpc.WithUnaryInterceptor(t.UnaryClientInterceptor()))
	case mechanism == "aegis_sre":
		opts = append(opts, grpc.WithUnaryInterceptor(aegisInterceptor()))
	default:
		return nil, fmt.Errorf("clientoverload: unknown mechanism %q", mechanism)
	}
	return opts, nil
}

// errAegisRefused marks a call aegis refused.
var errAegisRefused = status.Error(codes.Unavailable, "aegis: circuit breaker refused the call")

// aegisInterceptor uses an aegis SRE breaker per target, with its
// defaults, as kratos's circuit-breaker middleware does: a refused call is
// marked failed, a server error (Unavailable, Internal, DeadlineExceeded:
// kratos's 503, 500, 504) is a failure, anything else a success.
func aegisInterceptor() grpc.UnaryClientInterceptor {
	var breakers sync.Map // target -> circuitbreaker.CircuitBreaker
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		v, ok := breakers.Load(cc.Target())
		if !ok {
			v, _ = breakers.LoadOrStore(cc.Target(), sre.NewBreaker())
		}
		cb := v.(circuitbreaker.CircuitBreaker)
		if err := cb.Allow(); err != nil {
			cb.MarkFailed()
			return errAegisRefused
		}
		err := invoker(ctx, method, req, reply, cc, opts...)
		switch status.Code(err) {
		case codes.Unavailable, codes.Internal, codes.DeadlineExceeded:
			cb.MarkFailed()
		default:
			cb.MarkSuccess()
		}
		return err
	}
}

// refused reports whether err is a local refusal by the mechanism.
func refused(err error) bool {
	if errors.Is(err, errAegisRefused) {
		return true
	}
	s, ok := status.FromError(err)
	return ok && s.Code() == codes.Unavailable && len(s.Message()) > 8 && s.Message()[:8] == "breaker:"
}

// counts are one mechanism's counters for a tick.
type counts struct {
	aimed0, reached0, ok0 int64 // backend 0
	aimedH, okH           int64 // backends 1 and 2
}

type rig struct {
	name     string
	backends [3]*backend
	client   client
	mu       sync.Mutex
	ticks    []counts
	// calls that had reached backend 0 when it began to fail and healed
	arrivedAtFail, arrivedAtHeal int64
}

// Run runs the scenario for every mechanism side by side.
func Run(ctx context.Context, cfg Config, mechanisms []string) ([]Result, error) {
	rigs := make([]*rig, 0, len(mechanisms))
	defer func() {
		for _, r := range rigs {
			r.close()
		}
	}()
	for _, m := range mechanisms {
		r, err := newRig(m, cfg.FailShare)
		if err != nil {
			return nil, err
		}
		rigs = append(rigs, r)
	}
	start := time.Now()
	failAt, healAt := start.Add(cfg.Warmup), start.Add(cfg.Warmup+cfg.Failing)
	end := healAt.Add(cfg.MaxRecovery)
	var wg sync.WaitGroup
	for _, r := range rigs {
		wg.Go(func() { r.drive(ctx, cfg, start, end) })
	}
	wg.Go(func() {
		sleepUntil(ctx, failAt)
		for _, r := range rigs {
			r.backends[0].failing.Store(true)
			r.arrivedAtFail = r.backends[0].arrived.Load()
		}
		sleepUntil(ctx, healAt)
		for _, r := range rigs {
			r.backends[0].failing.Store(false)
			r.arrivedAtHeal = r.backends[0].arrived.Load()
		}
	})
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := make([]Result, len(rigs))
	for i, r := range rigs {
		res[i] = r.result(cfg)
	}
	return res, nil
}

func sleepUntil(ctx context.Context, t time.Time) {
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(t)):
	}
}

func newRig(m string, share float64) (*rig, error) {
	r := &rig{name: m}
	for i := range r.backends {
		// Each backend gets its own breaker, throttle or budget, as a
		// client of that backend alone would have.
		opts, err := dialOptions(m)
		if err != nil {
			r.close()
			return nil, err
		}
		b, err := startBackend(share)
		if err != nil {
			r.close()
			return nil, err
		}
		r.backends[i] = b
		cc, err := grpc.NewClient(b.srv.Addr, opts...)
		if err != nil {
			r.close()
			return nil, err
		}
		r.client.conns[i] = cc
		r.client.stubs[i] = greeterv1.NewGreeterClient(cc)
	}
	return r, nil
}

func (r *rig) close() {
	for i := range r.backends {
		if cc := r.client.conns[i]; cc != nil {
			cc.Close()
		}
		if b := r.backends[i]; b != nil && b.srv != nil {
			b.srv.Stop()
		}
	}
}

// drive sends calls open-loop from start to end, round-robin over the
// backends, and records each outcome in its tick.
func (r *rig) drive(ctx context.Context, cfg Config, start, end time.Time) {
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	r.ticks = make([]counts, int(end.Sub(start)/tick)+1)
	var calls sync.WaitGroup
	defer calls.Wait()
	for n := 0; ; n++ {
		at := start.Add(time.Duration(n) * interval)
		if at.After(end) || ctx.Err() != nil {
			return
		}
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		i := n % 3
		calls.Go(func() { r.call(ctx, cfg, i, int(at.Sub(start)/tick)) })
	}
}

func (r *rig) call(ctx context.Context, cfg Config, i, t int) {
	cctx, cancel := context.WithTimeout(ctx, cfg.Deadline)
	_, err := r.client.stubs[i].SayHello(cctx, &greeterv1.SayHelloRequest{Name: "x"})
	cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	c := &r.ticks[t]
	if i == 0 {
		c.aimed0++
		if !refused(err) {
			c.reached0++
		}
		if err == nil {
			c.ok0++
		}
		return
	}
	c.aimedH++
	if err == nil {
		c.okH++
	}
}

func (r *rig) result(cfg Config) Result {
	res := Result{Mechanism: r.name, Recovery: -1}
	first := int(cfg.Warmup / tick)
	heal := int((cfg.Warmup + cfg.Failing) / tick)
	var f counts
	for _, c := range r.ticks[first:heal] {
		f.aimed0 += c.aimed0
		f.reached0 += c.reached0
		f.ok0 += c.ok0
		f.aimedH += c.aimedH
		f.okH += c.okH
	}
	res.FailingLoad = ratio(r.arrivedAtHeal-r.arrivedAtFail, f.aimed0)
	res.LostHealthy = 1 - ratio(f.okH, f.aimedH)
	want := float64(f.aimedH) + (1-cfg.FailShare)*float64(f.aimed0)
	res.LostSuccesses = max(0, 1-float64(f.okH+f.ok0)/want)
	for _, c := range r.ticks {
		res.Timeline = append(res.Timeline, ratio(c.reached0, c.aimed0))
	}
	perSecond := int(time.Second / tick)
	for t := heal; t+perSecond <= len(r.ticks); t++ {
		var w counts
		for _, c := range r.ticks[t : t+perSecond] {
			w.aimed0 += c.aimed0
			w.reached0 += c.reached0
		}
		if w.aimed0 > 0 && ratio(w.reached0, w.aimed0) >= 0.9 {
			res.Recovery = time.Duration(t-heal) * tick
			break
		}
	}
	return res
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
