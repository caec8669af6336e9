package debugz_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/balancer/lbconfig"
	"github.com/grpckit/grpckit/balancer/outlier"
	"github.com/grpckit/grpckit/debugz"
	"github.com/grpckit/grpckit/interceptor/breaker"
	"github.com/grpckit/grpckit/interceptor/ratelimit"
	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

const (
	hostileVersion = `<script>alert("v")</script>`
	hostileZone    = `"><img src=x onerror=alert(1)>`
)

func sayHello(ctx context.Context, cc *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := greeterv1.NewGreeterClient(cc).SayHello(ctx, &greeterv1.SayHelloRequest{Name: "debugz"})
	return err
}

// scenario is a channel of three loopback greeters behind
// debugz{outlier{round_robin}}, g3 failing every call.
type scenario struct {
	page       *debugz.Page
	g1, g2, g3 *greeter.Running
	target     string
}

func newScenario(t *testing.T, p *debugz.Page) *scenario {
	huge := strings.Repeat("x", 10000)
	return &scenario{
		page:   p,
		g1:     greeter.Start(t, kitresolver.Instance{ID: "g1", Service: "greeter", Weight: 3, Zone: hostileZone, Version: hostileVersion}),
		g2:     greeter.Start(t, kitresolver.Instance{ID: "g2" + huge, Service: "greeter", Zone: "eu-1b", Version: "1.0"}),
		g3:     greeter.Start(t, kitresolver.Instance{ID: "g3", Service: "greeter", Zone: "eu-1c", Version: "1.0"}),
		target: "scenario:///greeter",
	}
}

func (s *scenario) dial(t *testing.T) (*grpc.ClientConn, *manual.Resolver) {
	t.Helper()
	r := manual.NewBuilderWithScheme("scenario")
	r.InitialState(resolver.State{Endpoints: kitresolver.Endpoints([]kitresolver.Instance{
		s.g1.Instance(), s.g2.Instance(), s.g3.Instance(),
	})})
	lb := lbconfig.Must(debugz.Policy(lbconfig.Must(outlier.Policy(lbconfig.RoundRobin(),
		outlier.WithConsecutiveFailures(2), outlier.WithInterval(100*time.Millisecond),
		outlier.WithBaseEjectionTime(time.Hour), outlier.WithMaxEjectionTime(time.Hour), outlier.WithMaxEjectionPercent(50)))))
	cc, err := grpc.NewClient(s.target, grpc.WithResolvers(s.page.Builder(r)), lb.DialOption(),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	return cc, r
}

func endpointOf(t *testing.T, bv debugz.BalancerView, addr string) debugz.EndpointView {
	t.Helper()
	for _, ep := range bv.Endpoints {
		if ep.Address == addr {
			return ep
		}
	}
	t.Fatalf("balancer has no endpoint %s: %+v", addr, bv.Endpoints)
	return debugz.EndpointView{}
}

func oneBalancer(t *testing.T, rep debugz.Report) debugz.BalancerView {
	t.Helper()
	if len(rep.Balancers) != 1 {
		t.Fatalf("%d balancers on the page, want 1: %+v", len(rep.Balancers), rep.Balancers)
	}
	return rep.Balancers[0]
}

// TestScenario runs a failing backend that outlier ejection takes out, a
// stopped backend, a breaker that opens, a limiter that rejects and a
// registry outage, with real servers on loopback, and checks the page's JSON
// and HTML report each fact; then that the channel's entries go when it
// closes and come back when it is opened again.
func TestScenario(t *testing.T) {
	ctx := context.Background()
	p := debugz.New()
	s := newScenario(t, p)
	s.g3.SetFailure(codes.Unavailable)
	cc, r := s.dial(t)

	// A failing backend: g3 answers Unavailable until outlier ejects it,
	// after which every call succeeds.
	calls, ok := 0, 0
	for ok < 30 {
		calls++
		if err := sayHello(ctx, cc); err != nil {
			ok = 0
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("call: %v", err)
			}
			continue
		}
		ok++
		if calls > 2000 {
			t.Fatal("g3 never ejected")
		}
	}
	rep := report(t, p)
	bv := oneBalancer(t, rep)
	if bv.Target != s.target || bv.ChildPolicy != outlier.Name || bv.State != "READY" || bv.InFlight != 0 {
		t.Errorf("balancer %+v", bv)
	}
	if bv.Picks < uint64(calls) {
		t.Errorf("%d picks for %d calls", bv.Picks, calls)
	}
	g3 := endpointOf(t, bv, s.g3.Addr)
	g1, g2 := endpointOf(t, bv, s.g1.Addr), endpointOf(t, bv, s.g2.Addr)
	if g3.Picks == 0 || g1.Picks == 0 || g2.Picks == 0 || g1.Picks+g2.Picks < 30 || g3.InFlight != 0 {
		t.Errorf("after ejection: g1 %+v, g2 %+v, g3 %+v", g1, g2, g3)
	}
	if len(rep.Resolvers) != 1 || bv.ResolverID != rep.Resolvers[0].ID {
		t.Errorf("balancer's resolver %d, resolvers %+v", bv.ResolverID, rep.Resolvers)
	}
	// Calls after the ejection went to g1 and g2 only.
	before := g3.Picks
	for range 10 {
		if err := sayHello(ctx, cc); err != nil {
			t.Fatalf("call after ejection: %v", err)
		}
	}
	if g3 = endpointOf(t, oneBalancer(t, report(t, p)), s.g3.Addr); g3.Picks != before {
		t.Errorf("ejected g3 picked %d more times", g3.Picks-before)
	}

	// A registry outage: the resolver reports an error, calls go on.
	r.CC().ReportError(errors.New("etcd: registry unreachable: context deadline exceeded"))
	if err := sayHello(ctx, cc); err != nil {
		t.Fatalf("call during the outage: %v", err)
	}

	// A breaker opened, on a channel to g3 alone.
	group, err := breaker.New(breaker.WithConsecutiveFailures(3), breaker.WithOpenTimeout(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Breakers("client", group)()
	bcc, err := grpc.NewClient("passthrough:///"+s.g3.Addr, grpc.WithUnaryInterceptor(group.UnaryClientInterceptor()),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer bcc.Close()
	for range 5 {
		sayHello(ctx, bcc)
	}
	const method = "/greeter.v1.Greeter/SayHello"
	if st := group.State(method); st != breaker.StateOpen {
		t.Fatalf("breaker %s, want open", st)
	}

	// A limiter rejecting, on a server of its own.
	tb, err := ratelimit.NewTokenBucket(0.001, 2)
	if err != nil {
		t.Fatal(err)
	}
	lim := greeter.Start(t, kitresolver.Instance{Service: "greeter"},
		grpc.UnaryInterceptor(ratelimit.UnaryServerInterceptor(p.Limiter("server", tb), ratelimit.WithKey(ratelimit.KeyMethod))))
	lcc, err := grpc.NewClient("passthrough:///"+lim.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer lcc.Close()
	for range 6 {
		sayHello(ctx, lcc)
	}

	// A stopped backend: g2's connection goes, its state shows it.
	s.g2.Stop()
	waitFor(t, "g2 not READY", func() bool {
		st := endpointOf(t, oneBalancer(t, p.Report()), s.g2.Addr).State
		return st != "READY" && st != ""
	})

	rep = report(t, p)
	checkScenarioJSON(t, s, rep, method)
	checkScenarioHTML(t, s, pageText(t, p), method)

	// Closed: the channel's entries go. Opened again: they come back.
	cc.Close()
	rep = report(t, p)
	if len(rep.Resolvers) != 0 || len(rep.Balancers) != 0 {
		t.Fatalf("after Close: %d resolvers, %d balancers", len(rep.Resolvers), len(rep.Balancers))
	}
	cc, _ = s.dial(t)
	if err := sayHello(ctx, cc); err != nil && status.Code(err) != codes.Unavailable {
		t.Fatalf("call on the reopened channel: %v", err)
	}
	rep = report(t, p)
	if len(rep.Resolvers) != 1 || len(rep.Balancers) != 1 || rep.Balancers[0].ResolverID != rep.Resolvers[0].ID {
		t.Fatalf("reopened: resolvers %+v balancers %+v", rep.Resolvers, rep.Balancers)
	}
	cc.Close()
	if rep = report(t, p); len(rep.Resolvers) != 0 || len(rep.Balancers) != 0 {
		t.Fatalf("after the second Close: %d resolvers, %d balancers", len(rep.Resolvers), len(rep.Balancers))
	}
}

func checkScenarioJSON(t *testing.T, s *scenario, rep debugz.Report, method string) {
	t.Helper()
	rv := rep.Resolvers[0]
	if rv.Target != s.target || rv.Errors != 1 || !strings.Contains(rv.LastError, "registry unreachable") || rv.LastErrorAt == nil || rv.Stale {
		t.Errorf("resolver %+v", rv)
	}
	if len(rv.Instances) != 3 {
		t.Fatalf("instances %+v", rv.Instances)
	}
	for _, in := range rv.Instances {
		if len(in.ID) > debugz.MaxStringLen+len("…") {
			t.Errorf("instance id of %d bytes not cut", len(in.ID))
		}
		if in.Address == s.g1.Addr && (in.Zone != hostileZone || in.Version != hostileVersion || in.Weight != 3) {
			t.Errorf("g1 %+v", in)
		}
	}
	bv := rep.Balancers[0]
	if ep := endpointOf(t, bv, s.g1.Addr); ep.State != "READY" || ep.ID != "g1" {
		t.Errorf("g1 %+v", ep)
	}
	if st := endpointOf(t, bv, s.g2.Addr).State; st == "READY" {
		t.Errorf("stopped g2 state %q", st)
	}
	var shares float64
	for _, ep := range bv.Endpoints {
		shares += ep.Share
	}
	if shares < 0.999 || shares > 1.001 {
		t.Errorf("shares add up to %v", shares)
	}
	if len(rep.Breakers) != 1 || len(rep.Breakers[0].Keys) != 1 {
		t.Fatalf("breakers %+v", rep.Breakers)
	}
	k := rep.Breakers[0].Keys[0]
	if rep.Breakers[0].Name != "client" || k.Key != method || k.State != "open" {
		t.Errorf("breaker key %+v", k)
	}
	if len(rep.Limiters) != 1 {
		t.Fatalf("limiters %+v", rep.Limiters)
	}
	lv := rep.Limiters[0]
	if lv.Admitted != 2 || lv.Rejected != 4 || len(lv.TopKeys) != 1 || lv.TopKeys[0].Key != method || lv.TopKeys[0].Rejected != 4 {
		t.Errorf("limiter %+v", lv)
	}
}

func checkScenarioHTML(t *testing.T, s *scenario, text, method string) {
	t.Helper()
	for _, fact := range []string{
		s.target,
		"registry unreachable",
		"g1 | " + s.g1.Addr + " | READY |",
		"| 3 | " + hostileZone + " | " + hostileVersion + " |",
		method + " | open |",
		method + " | 4 |",
		"2 admitted",
	} {
		if !strings.Contains(text, fact) {
			t.Errorf("page text lacks %q", fact)
		}
	}
	if strings.Contains(text, strings.Repeat("x", debugz.MaxStringLen+1)) {
		t.Error("page shows a string longer than MaxStringLen")
	}
	if t.Failed() {
		t.Logf("page text:\n%s", text)
	}
}
