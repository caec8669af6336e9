package outlier_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"

	_ "github.com/grpckit/grpckit/balancer/outlier"
	"github.com/grpckit/grpckit/balancer/p2c"
	"github.com/grpckit/grpckit/balancer/wrr"
	"github.com/grpckit/grpckit/internal/greeter"
	"github.com/grpckit/grpckit/internal/testutil"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// startGreeters starts n greeters named g0, g1, ...
func startGreeters(t *testing.T, n int) []*greeter.Running {
	t.Helper()
	gs := make([]*greeter.Running, n)
	for i := range gs {
		gs[i] = greeter.Start(t, kitresolver.Instance{ID: fmt.Sprintf("g%d", i), Service: "greeter"})
	}
	return gs
}

// dial connects to gs through a manual resolver with the given outlier
// config (the inside of {"grpckit_outlier_ejection":...}).
func dial(t *testing.T, gs []*greeter.Running, cfg string) greeterv1.GreeterClient {
	t.Helper()
	insts := make([]kitresolver.Instance, len(gs))
	for i, g := range gs {
		insts[i] = g.Instance()
	}
	r := manual.NewBuilderWithScheme("outliertest")
	r.InitialState(resolver.State{Endpoints: kitresolver.Endpoints(insts)})
	sc := fmt.Sprintf(`{"loadBalancingConfig":[{"grpckit_outlier_ejection":%s}]}`, cfg)
	conn, err := grpc.NewClient(r.Scheme()+":///greeter",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithResolvers(r),
		grpc.WithDefaultServiceConfig(sc))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return greeterv1.NewGreeterClient(conn)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	t.Cleanup(cancel)
	return ctx
}

// sayHello makes one call and returns the answering instance or the code.
func sayHello(ctx context.Context, c greeterv1.GreeterClient) (string, codes.Code) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	resp, err := c.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "outlier"})
	if err != nil {
		return "", status.Code(err)
	}
	return resp.GetGreeting().GetInstanceId(), codes.OK
}

// waitAllServing calls until every greeter has answered once.
func waitAllServing(t *testing.T, ctx context.Context, c greeterv1.GreeterClient, gs []*greeter.Running) {
	t.Helper()
	seen := map[string]bool{}
	for len(seen) < len(gs) {
		if ctx.Err() != nil {
			t.Fatalf("only %d of %d greeters answered before the deadline", len(seen), len(gs))
		}
		if id, _ := sayHello(ctx, c); id != "" {
			seen[id] = true
		}
	}
}

// calls returns how many calls each greeter received.
func calls(gs []*greeter.Running) []int64 {
	out := make([]int64, len(gs))
	for i, g := range gs {
		out[i] = g.Calls()
	}
	return out
}

func TestFailingEndpointIsEjectedWithinNCallsAndReturns(t *testing.T) {
	const n = 3
	const base = 400 * time.Millisecond
	ctx := testContext(t)
	gs := startGreeters(t, 3)
	c := dial(t, gs, fmt.Sprintf(`{"consecutiveFailures":%d,"failureRateThreshold":0,"interval":"100ms",
		"baseEjectionTime":"%v","maxEjectionPercent":50,"childPolicy":[{"round_robin":{}}]}`, n, base))
	waitAllServing(t, ctx, c, gs)

	bad := gs[1]
	bad.SetFailure(codes.Unavailable)
	before := bad.Calls()
	var lastFailStart time.Time
	for failures := 0; failures < n; {
		start := time.Now()
		if _, code := sayHello(ctx, c); code == codes.Unavailable {
			failures, lastFailStart = failures+1, start
		}
	}
	// The ejection is in place before round robin comes back to it.
	for i := range 30 {
		if _, code := sayHello(ctx, c); code != codes.OK {
			t.Fatalf("call %d after the ejection failed with %v", i, code)
		}
	}
	if got := bad.Calls() - before; got != n {
		t.Fatalf("failing greeter received %d calls, want exactly %d (ejected after %d failures)", got, n, n)
	}

	bad.SetFailure(codes.OK)
	for bad.Calls()-before == n {
		if ctx.Err() != nil {
			t.Fatal("healed greeter never came back")
		}
		sayHello(ctx, c)
	}
	if out := time.Since(lastFailStart); out < base {
		t.Fatalf("greeter came back after %v, before its ejection time %v", out, base)
	}
}

func TestCallerCancellationsDoNotCount(t *testing.T) {
	ctx := testContext(t)
	gs := startGreeters(t, 2)
	c := dial(t, gs, `{"consecutiveFailures":2,"failureRateThreshold":0.1,"failureRateMinRequests":1,
		"interval":"100ms","baseEjectionTime":"30s","maxEjectionPercent":50}`)
	waitAllServing(t, ctx, c, gs)

	for _, g := range gs {
		g.SetDelay(10 * time.Second)
	}
	for i := range 10 {
		callCtx, cancel := context.WithCancel(ctx)
		time.AfterFunc(20*time.Millisecond, cancel)
		_, err := c.SayHello(callCtx, &greeterv1.SayHelloRequest{Name: "impatient"})
		cancel()
		if code := status.Code(err); code != codes.Canceled {
			t.Fatalf("call %d: got %v, want CANCELLED", i, err)
		}
	}
	for _, g := range gs {
		g.SetDelay(0)
	}
	// Several failure-rate intervals pass while both keep serving.
	deadline := time.Now().Add(500 * time.Millisecond)
	prev := calls(gs)
	for time.Now().Before(deadline) {
		for range 4 {
			if _, code := sayHello(ctx, c); code != codes.OK {
				t.Fatalf("call failed: %v", code)
			}
		}
		now := calls(gs)
		for i := range gs {
			if now[i] == prev[i] {
				t.Fatalf("greeter %d got none of 4 calls: ejected for cancelled calls", i)
			}
		}
		prev = now
	}
}

// TestHungEndpointIsEjected: an endpoint that answers nothing within the
// callers' deadlines fails them with DEADLINE_EXCEEDED, and is ejected for it.
func TestHungEndpointIsEjected(t *testing.T) {
	const n = 2
	ctx := testContext(t)
	gs := startGreeters(t, 3)
	c := dial(t, gs, fmt.Sprintf(`{"consecutiveFailures":%d,"failureRateThreshold":0,"baseEjectionTime":"30s",
		"maxEjectionPercent":50,"childPolicy":[{"round_robin":{}}]}`, n))
	waitAllServing(t, ctx, c, gs)

	hung := gs[0]
	hung.SetDelay(10 * time.Second)
	before := hung.Calls()
	for timeouts := 0; timeouts < n; {
		if ctx.Err() != nil {
			t.Fatalf("saw %d timeouts before the test's deadline", timeouts)
		}
		callCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		_, err := c.SayHello(callCtx, &greeterv1.SayHelloRequest{Name: "hurried"})
		cancel()
		if status.Code(err) == codes.DeadlineExceeded {
			timeouts++
		}
	}
	for i := range 30 {
		if _, code := sayHello(ctx, c); code != codes.OK {
			t.Fatalf("call %d after the ejection failed with %v", i, code)
		}
	}
	if got := hung.Calls() - before; got != n {
		t.Fatalf("hung greeter received %d calls, want exactly %d (ejected after %d timeouts)", got, n, n)
	}
}

func TestMaxEjectionPercentRespected(t *testing.T) {
	ctx := testContext(t)
	gs := startGreeters(t, 4)
	c := dial(t, gs, `{"consecutiveFailures":2,"failureRateThreshold":0,"baseEjectionTime":"30s",
		"maxEjectionPercent":50,"childPolicy":[{"round_robin":{}}]}`)
	waitAllServing(t, ctx, c, gs)
	for _, g := range gs {
		g.SetFailure(codes.Internal)
	}
	// Once 2 of 4 are out, every call lands on the 2 left: poll until a
	// batch reaches exactly two, then check it stays so.
	for stable := 0; stable < 3; {
		if ctx.Err() != nil {
			t.Fatalf("never settled on two greeters; calls %v", calls(gs))
		}
		prev := calls(gs)
		for range 20 {
			sayHello(ctx, c)
		}
		got := servedSince(prev, calls(gs))
		switch {
		case got < 2:
			t.Fatalf("only %d greeters served a batch: more than 50%% ejected", got)
		case got == 2:
			stable++
		}
	}
}

func servedSince(prev, now []int64) int {
	n := 0
	for i := range now {
		if now[i] > prev[i] {
			n++
		}
	}
	return n
}

// TestEjectsUnderGrpckitChildren runs the policy over grpckit's own
// policies; p2c chains a Done callback of its own.
func TestEjectsUnderGrpckitChildren(t *testing.T) {
	for _, child := range []string{p2c.Name, wrr.Name} {
		t.Run(child, func(t *testing.T) {
			ctx := testContext(t)
			gs := startGreeters(t, 3)
			c := dial(t, gs, fmt.Sprintf(`{"consecutiveFailures":3,"failureRateThreshold":0,
				"baseEjectionTime":"30s","maxEjectionPercent":50,"childPolicy":[{%q:{}}]}`, child))
			waitAllServing(t, ctx, c, gs)
			bad := gs[2]
			bad.SetFailure(codes.Unavailable)
			for ok := 0; ok < 30; {
				if ctx.Err() != nil {
					t.Fatalf("failing greeter never ejected; calls %v", calls(gs))
				}
				if _, code := sayHello(ctx, c); code == codes.OK {
					ok++
				} else {
					ok = 0
				}
			}
			before := bad.Calls()
			for i := range 50 {
				if _, code := sayHello(ctx, c); code != codes.OK {
					t.Fatalf("call %d after the ejection failed with %v", i, code)
				}
			}
			if got := bad.Calls(); got != before {
				t.Fatalf("ejected greeter received %d more calls", got-before)
			}
		})
	}
}
