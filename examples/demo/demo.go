package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/balancer/consistenthash"
	"github.com/grpckit/grpckit/debugz"
	"github.com/grpckit/grpckit/examples/internal/greeterapp"
	"github.com/grpckit/grpckit/interceptor/breaker"
	"github.com/grpckit/grpckit/interceptor/ratelimit"
	"github.com/grpckit/grpckit/interceptor/stack"
	"github.com/grpckit/grpckit/interceptor/tracing"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	"github.com/grpckit/grpckit/registrytest"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// localZone is the client's zone.
const localZone = "eu-1a"

// backend describes one of the demo's greeter servers.
type backend struct {
	id     string
	weight uint32
	zone   string
	role   string // "", "slow", "limited" or "failing"
}

var backends = []backend{
	{id: "g1", weight: 3, zone: "eu-1a"},
	{id: "g2", weight: 2, zone: "eu-1a"},
	{id: "g3", weight: 1, zone: "eu-1b", role: "limited"},
	{id: "g4", weight: 1, zone: "eu-1b", role: "slow"},
	{id: "g5", weight: 1, zone: "eu-1b", role: "failing"},
}

// The backends with a part to play.
const (
	failingID = "g5"
	killedID  = "g2"
)

// roleID returns the id of the backend that plays role.
func roleID(role string) string {
	return backends[slices.IndexFunc(backends, func(b backend) bool { return b.role == role })].id
}

// failingFrom is the balancer from whose phase on the failing backend fails:
// the outlier phase, which is there to eject it. Before, it is healthy, so
// that the phases before show their own policy at work, not a failure.
func failingFrom() int { return slices.Index(greeterapp.Balancers, "outlier") }

// summary is what the demo measured, phase by phase.
type summary struct {
	phases  []*phaseStats
	ejected int64 // outlier ejections in the outlier phase
	breaker breakerResult
	kill    killResult
	over    overloadResult
}

// phases is how many phases the demo has: one per balancer, the breaker,
// the kill and the overload.
var phases = len(greeterapp.Balancers) + 3

// phaseTitle is the title of phase n of the live view.
func phaseTitle(n int, what string) string { return fmt.Sprintf("%d/%d %s", n, phases, what) }

type breakerResult struct {
	transitions []string // "closed→open", ...
	refused     int64    // calls the open breaker refused
	reached     int64    // calls that reached the failing backend meanwhile
}

type killResult struct {
	dropped, returned time.Duration // shutdown → resolver without it; restart → resolver with it
	whileDown         int64         // calls that reached it between its shutdown and its restart
	after             int64         // calls it served after it returned
	failed            int64         // calls that failed during the phase, but for rate limiting
}

// demo is one run of the demo.
type demo struct {
	cfg     config
	out     io.Writer
	start   time.Time
	reg     greeterapp.Registry
	servers map[string]*greeterapp.Server
	byAddr  sync.Map // backend address → id
	view    *view
	page    *debugz.Page // the debug page: channels, breakers, limiters
}

// run runs the whole demo and returns what it measured.
func run(ctx context.Context, cfg config, out io.Writer) (*summary, error) {
	d := &demo{cfg: cfg, out: out, start: time.Now(), servers: map[string]*greeterapp.Server{}, page: debugz.New()}
	dbg, err := greeterapp.ServeDebug("127.0.0.1:0", d.page)
	if err != nil {
		return nil, err
	}
	defer dbg.Close()
	logf(out, d.start, "debug page: %s", dbg.URL)
	shutdownTracing, err := tracing.Setup(ctx, "grpckit-demo")
	if err != nil {
		return nil, err
	}
	defer shutdownTracing(context.Background())
	closeRegistry, err := d.openRegistry()
	if err != nil {
		return nil, err
	}
	defer closeRegistry()
	defer d.stopServers()
	if err := d.startServers(ctx); err != nil {
		return nil, err
	}
	d.view = newView(d, out, cfg.live)
	defer d.view.stop()

	sum := &summary{}
	for i, name := range greeterapp.Balancers {
		p, ejected, err := d.balancerPhase(ctx, i+1, name, i == failingFrom())
		if err != nil {
			return nil, err
		}
		sum.phases = append(sum.phases, p)
		if name == "outlier" {
			sum.ejected = ejected
		}
	}
	if sum.breaker, err = d.breakerPhase(ctx); err != nil {
		return nil, err
	}
	if sum.kill, err = d.killPhase(ctx); err != nil {
		return nil, err
	}
	if sum.over, err = d.overloadPhase(ctx, phaseTitle(phases, overloadedID+" overloaded")); err != nil {
		return nil, err
	}
	d.view.stop()
	printSummary(out, cfg, sum)
	return sum, nil
}

// openRegistry starts an embedded etcd, or connects to the Consul agent
// given.
func (d *demo) openRegistry() (closeFn func(), err error) {
	if d.cfg.consul != "" {
		cc := api.DefaultConfig()
		cc.Address = d.cfg.consul
		d.reg = greeterapp.Registry{Consul: cc, CheckInterval: time.Second}
		logf(d.out, d.start, "registry: Consul agent at %s", d.cfg.consul)
		return func() {}, nil
	}
	dir, err := os.MkdirTemp("", "grpckit-demo-")
	if err != nil {
		return nil, err
	}
	etcd, err := registrytest.NewEtcdCluster(dir, 1)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cli, err := etcd.NewClient()
	if err != nil {
		etcd.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	d.reg = greeterapp.Registry{Etcd: cli, TTL: 5 * time.Second}
	logf(d.out, d.start, "registry: embedded etcd at %s", etcd.Endpoints()[0])
	return func() { cli.Close(); etcd.Close(); os.RemoveAll(dir) }, nil
}

// startServers starts and registers every backend.
func (d *demo) startServers(ctx context.Context) error {
	for _, b := range backends {
		s, err := d.startServer(ctx, b, "")
		if err != nil {
			return err
		}
		logf(d.out, d.start, "backend %s on %s: weight %d, zone %s %s", b.id, s.Addr, b.weight, b.zone, b.role)
	}
	return nil
}

func (d *demo) startServer(ctx context.Context, b backend, listen string) (*greeterapp.Server, error) {
	stackOpts := []stack.ServerOption{stack.WithoutRateLimit()}
	if b.role == "limited" {
		tb, err := ratelimit.NewTokenBucket(rate.Limit(d.cfg.limit), 5)
		if err != nil {
			return nil, err
		}
		stackOpts = []stack.ServerOption{stack.WithLimiter(d.page.Limiter("backend "+b.id, tb))}
	}
	s, err := greeterapp.Start(ctx, greeterapp.ServerConfig{
		Instance:  kitresolver.Instance{ID: b.id, Weight: b.weight, Zone: b.zone},
		Listen:    listen,
		Registry:  d.reg,
		Stack:     stackOpts,
		DrainTime: 200 * time.Millisecond,
	})
	if err != nil {
		return nil, err
	}
	delay := d.cfg.baseDelay
	if b.role == "slow" {
		delay *= time.Duration(d.cfg.slowness)
	}
	s.SetDelay(delay)
	d.servers[b.id] = s
	d.byAddr.Store(s.Addr, b.id)
	return s, nil
}

func (d *demo) stopServers() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range d.servers {
		s.Shutdown(ctx)
	}
}

// dial connects a client to the greeter service through the balancer.
func (d *demo) dial(balancer string, group *breaker.Group, opts ...grpc.DialOption) (*grpc.ClientConn, *watchedBuilder, error) {
	wb := &watchedBuilder{Builder: d.reg.Builder()}
	conn, err := greeterapp.Dial(greeterapp.ClientConfig{
		Registry:  d.reg,
		Balancer:  balancer,
		LocalZone: localZone,
		// A server's pushback holds every call of this client, not just
		// those to the backend that asked; the demo's rate-limited backend
		// would stall the whole client, so the client limiter is off.
		Stack:       []stack.ClientOption{stack.WithBreaker(group), stack.WithoutRateLimit()},
		Resolver:    wb,
		DialOptions: opts,
		Debug:       d.page,
	})
	if err != nil {
		return nil, nil, err
	}
	conn.Connect() // leave idle mode: build the resolver now
	return conn, wb, nil
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// balancerPhase drives traffic through one balancer for a phase and returns
// what it measured, with the outlier ejections recorded meanwhile. With
// startFailing, the failing backend starts failing as the phase begins.
func (d *demo) balancerPhase(ctx context.Context, n int, balancer string, startFailing bool) (*phaseStats, int64, error) {
	group, err := breaker.New(breaker.WithKey(warmUpApart), phaseTrip)
	if err != nil {
		return nil, 0, err
	}
	defer d.page.Breakers("client ("+balancer+")", group)()
	metrics := newMetricCounter()
	conn, wb, err := d.dial(balancer, group, grpc.WithStatsHandler(metrics))
	if err != nil {
		return nil, 0, err
	}
	defer conn.Close()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := waitFor(wctx, func() bool { return len(wb.instances()) == len(d.servers) }); err != nil {
		return nil, 0, fmt.Errorf("demo: the resolver did not list the %d backends: %w", len(d.servers), err)
	}
	// Until the policy has its first picker, calls wait; consistent hash
	// builds its table first, which takes a while under the race detector.
	for s := conn.GetState(); s != connectivity.Ready; s = conn.GetState() {
		if !conn.WaitForStateChange(wctx, s) {
			return nil, 0, fmt.Errorf("demo: the channel is still %v: %w", s, wctx.Err())
		}
	}
	// Calls of the first moments, while the channel connects to the
	// backends one by one, are not counted: they go to whichever is READY
	// first, whatever the policy.
	client := greeterv1.NewGreeterClient(conn)
	d.drive(withWarmUp(ctx), client, newPhaseStats("warm-up", d.ids()), max(200*time.Millisecond, d.cfg.phase/8))
	p := newPhaseStats(balancer, d.ids())
	d.view.setPhase(phaseTitle(n, balancer), d.about(balancer), p, wb, func() string {
		return fmt.Sprintf("breaker per method: %s   outlier ejections: %d%s", group.State(sayHello), metrics.get("grpckit.lb.outlier.ejections"), p.keysLine())
	})
	if startFailing {
		d.servers[failingID].SetFailure(codes.Unavailable)
		d.view.event("%s starts failing every call with Unavailable", failingID)
	}
	d.drive(ctx, client, p, d.cfg.phase)
	return p, metrics.get("grpckit.lb.outlier.ejections"), ctx.Err()
}

const sayHello = "/greeter.v1.Greeter/SayHello"

// phaseTrip is the trip condition of the breakers of the phases that spread
// calls over every backend: half the calls failing, out of at least 20, so
// that one bad backend among five cannot open it. The breaker's default, 60 %
// of at least 3 calls, would open on the rate-limited backend's first two
// rejections in a phase, and refuse every call for its open timeout.
var phaseTrip = breaker.WithFailureRatio(0.5, 20)

// warmUpKey marks the calls of a phase's warm-up.
type warmUpKey struct{}

func withWarmUp(ctx context.Context) context.Context {
	return context.WithValue(ctx, warmUpKey{}, true)
}

// warmUpApart keys the phase's breakers by method, with the warm-up's calls
// under a breaker of their own: while the channel connects they all go to
// the backend that is READY first, and when that is the rate-limited or the
// failing one they would open the phase's breaker before the phase begins.
func warmUpApart(ctx context.Context, cc *grpc.ClientConn, method string) string {
	if ctx.Value(warmUpKey{}) != nil {
		return method + " (warm-up)"
	}
	return breaker.ByMethod(ctx, cc, method)
}

func (d *demo) ids() []string {
	ids := make([]string, len(backends))
	for i, b := range backends {
		ids[i] = b.id
	}
	return ids
}

// drive sends calls at the configured rate for dur, recording them in p.
func (d *demo) drive(ctx context.Context, client greeterv1.GreeterClient, p *phaseStats, dur time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	lim := rate.NewLimiter(rate.Limit(d.cfg.rps), 1)
	var wg sync.WaitGroup
	for range d.cfg.workers {
		wg.Go(func() {
			for lim.Wait(ctx) == nil {
				d.call(ctx, client, p)
			}
		})
	}
	wg.Wait()
}

// call makes one call with a random hash key and records its outcome. A
// call the phase's end cuts short, by its deadline or its cancellation, is
// not recorded: it says nothing of the backends.
func (d *demo) call(phase context.Context, client greeterv1.GreeterClient, p *phaseStats) {
	ctx, cancel := context.WithTimeout(phase, time.Second)
	defer cancel()
	user := rand.IntN(users)
	ctx = consistenthash.WithKey(ctx, fmt.Sprintf("user-%d", user))
	var pr peer.Peer
	t0 := time.Now()
	_, err := client.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "demo"}, grpc.Peer(&pr))
	if phase.Err() != nil {
		return // the phase ended under the call
	}
	p.latency.record(time.Since(t0))
	p.calls.Add(1)
	if pr.Addr != nil {
		if id, ok := d.byAddr.Load(pr.Addr.String()); ok {
			p.served[id.(string)].Add(1)
			p.servedUser(user, id.(string))
		}
	}
	if err == nil {
		return
	}
	p.failed.Add(1)
	switch st := status.Convert(err); {
	case st.Code() == codes.ResourceExhausted:
		p.limited.Add(1)
	case st.Code() == codes.Unavailable && strings.Contains(st.Message(), "circuit open"):
		p.breakerd.Add(1)
	}
}

// breakerPhase sends every call to the failing backend alone, through a
// breaker with a short open timeout: it opens, refuses calls without
// touching the network, and closes again through half-open once the backend
// recovers half-way through the phase.
//
// A breaker with the default trip condition opens on a lone failing backend
// only once it has failed for breaker.DefaultLoneFor (3 s), since the
// backends that have not answered yet may be connecting; the phase shortens
// that to an eighth of the phase, so the breaker opens within the failing
// half of a phase of any length.
func (d *demo) breakerPhase(ctx context.Context) (breakerResult, error) {
	var (
		mu  sync.Mutex
		res breakerResult
	)
	group, err := breaker.New(
		breaker.WithOpenTimeout(d.cfg.phase/4),
		breaker.WithSpread(breaker.DefaultSpread, d.loneFor()),
		breaker.WithOnStateChange(func(_ string, from, to breaker.State) {
			mu.Lock()
			res.transitions = append(res.transitions, from.String()+"→"+to.String())
			mu.Unlock()
			d.view.event("breaker on %s: %s → %s", failingID, from, to)
		}),
	)
	if err != nil {
		return res, err
	}
	defer d.page.Breakers("client of "+failingID, group)()
	conn, err := grpc.NewClient("passthrough:///"+d.servers[failingID].Addr, d.directOptions(group)...)
	if err != nil {
		return res, err
	}
	defer conn.Close()
	p := newPhaseStats("breaker on "+failingID, d.ids())
	d.view.setPhase(phaseTitle(len(greeterapp.Balancers)+1, "breaker on "+failingID+" alone"), d.about("breaker"), p, nil, func() string {
		return fmt.Sprintf("breaker on %s: %s   calls reaching %s: %d", failingID, group.State(sayHello), failingID, d.servers[failingID].Calls())
	})
	client := greeterv1.NewGreeterClient(conn)
	before := d.servers[failingID].Calls()
	half := time.AfterFunc(d.cfg.phase/2, func() {
		d.servers[failingID].SetFailure(codes.OK)
		d.view.event("%s recovers", failingID)
	})
	defer half.Stop()
	d.drive(ctx, client, p, d.cfg.phase)
	// Not under mu: the view reads the breaker's state, which may deliver a
	// state change to the callback above.
	d.view.addPhase(p)
	mu.Lock()
	defer mu.Unlock()
	res.refused = p.breakerd.Load()
	res.reached = d.servers[failingID].Calls() - before
	return res, ctx.Err()
}

// loneFor is how long the breaker phase's lone backend fails before its
// breaker opens.
func (d *demo) loneFor() time.Duration { return d.cfg.phase / 8 }

// directOptions are the dial options of a client of one backend, with the
// recommended client stack around group.
func (d *demo) directOptions(group *breaker.Group) []grpc.DialOption {
	opts, err := stack.Client(stack.WithBreaker(group), stack.WithoutRateLimit())
	if err != nil {
		panic(err) // the options are constant
	}
	return append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

// killPhase drives traffic through wrr while it shuts one backend down (the
// way SIGTERM does: NOT_SERVING, deregister, drain, stop), then restarts it
// on the same address.
func (d *demo) killPhase(ctx context.Context) (killResult, error) {
	var res killResult
	group, err := breaker.New(phaseTrip)
	if err != nil {
		return res, err
	}
	defer d.page.Breakers("client (wrr)", group)()
	conn, wb, err := d.dial("wrr", group)
	if err != nil {
		return res, err
	}
	defer conn.Close()
	p := newPhaseStats("kill "+killedID, d.ids())
	d.view.setPhase(phaseTitle(len(greeterapp.Balancers)+2, "wrr while "+killedID+" is killed and restarted"), d.about("kill"), p, wb, func() string { return "" })
	dctx, stopDriving := context.WithCancel(ctx)
	driven := make(chan struct{})
	go func() {
		d.drive(dctx, greeterv1.NewGreeterClient(conn), p, time.Hour)
		close(driven)
	}()
	err = d.killAndRestart(ctx, wb, p, &res)
	stopDriving()
	<-driven
	res.failed = p.failed.Load() - p.limited.Load()
	d.view.addPhase(p)
	return res, err
}

func (d *demo) killAndRestart(ctx context.Context, wb *watchedBuilder, p *phaseStats, res *killResult) error {
	pause(ctx, d.cfg.phase/4)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	old := d.servers[killedID]
	d.view.event("shutting %s down: NOT_SERVING, deregister, drain, stop", killedID)
	t0 := time.Now()
	stopped := make(chan error, 1)
	go func() { stopped <- old.Shutdown(wctx) }()
	if err := waitFor(wctx, func() bool { return !slices.Contains(wb.instances(), killedID) }); err != nil {
		return fmt.Errorf("demo: the resolver kept %s: %w", killedID, err)
	}
	res.dropped = time.Since(t0)
	d.view.event("resolver dropped %s after %v", killedID, res.dropped.Round(time.Millisecond))
	if err := <-stopped; err != nil {
		return fmt.Errorf("demo: shutting %s down: %w", killedID, err)
	}
	downAt := p.served[killedID].Load()
	pause(ctx, d.cfg.phase/2)
	res.whileDown = p.served[killedID].Load() - downAt

	t0 = time.Now()
	b := backends[slices.IndexFunc(backends, func(b backend) bool { return b.id == killedID })]
	if _, err := d.startServer(wctx, b, old.Addr); err != nil {
		// Its port may have become some connection's local port meanwhile.
		d.view.event("restarting %s on %s: %v; on a new port instead", killedID, old.Addr, err)
		if _, err := d.startServer(wctx, b, ""); err != nil {
			return fmt.Errorf("demo: restarting %s: %w", killedID, err)
		}
	}
	if err := waitFor(wctx, func() bool { return slices.Contains(wb.instances(), killedID) }); err != nil {
		return fmt.Errorf("demo: the resolver did not find %s again: %w", killedID, err)
	}
	res.returned = time.Since(t0)
	upAt := p.served[killedID].Load()
	d.view.event("%s restarted; resolver listed it again after %v", killedID, res.returned.Round(time.Millisecond))
	pause(ctx, d.cfg.phase)
	res.after = p.served[killedID].Load() - upAt
	return nil
}

// pause waits for d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
