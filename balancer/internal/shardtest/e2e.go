package shardtest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/grpckit/grpckit/internal/greeter"
	"github.com/grpckit/grpckit/internal/testutil"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	"github.com/grpckit/grpckit/registrytest"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// StartGreeters starts one loopback greeter per weight, with IDs "g0", "g1"…
func StartGreeters(t testing.TB, weights ...uint32) []*greeter.Running {
	t.Helper()
	out := make([]*greeter.Running, len(weights))
	for i, w := range weights {
		out[i] = greeter.Start(t, kitresolver.Instance{ID: fmt.Sprintf("g%d", i), Service: "greeter", Weight: w})
	}
	return out
}

// Instances returns the instances the greeters answer as.
func Instances(gs ...*greeter.Running) []kitresolver.Instance {
	out := make([]kitresolver.Instance, len(gs))
	for i, g := range gs {
		out[i] = g.Instance()
	}
	return out
}

// ServiceConfig selects policy with its JSON config cfg.
func ServiceConfig(policy, cfg string) string {
	return fmt.Sprintf(`{"loadBalancingConfig":[{%q:%s}]}`, policy, cfg)
}

// DialManual dials the greeters through resolver/manual with the given
// service config and returns the client and the resolver, to update later.
func DialManual(t testing.TB, serviceConfig string, insts []kitresolver.Instance) (greeterv1.GreeterClient, *manual.Resolver) {
	t.Helper()
	r := manual.NewBuilderWithScheme("grpckit-test")
	r.InitialState(resolver.State{Endpoints: kitresolver.Endpoints(insts)})
	return Dial(t, r.Scheme()+":///greeter", serviceConfig, grpc.WithResolvers(r)), r
}

// Dial dials target with the service config and closes the connection at cleanup.
func Dial(t testing.TB, target, serviceConfig string, opts ...grpc.DialOption) greeterv1.GreeterClient {
	t.Helper()
	opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDefaultServiceConfig(serviceConfig))
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		t.Fatalf("grpc.NewClient(%s): %v", target, err)
	}
	t.Cleanup(func() { conn.Close() })
	return greeterv1.NewGreeterClient(conn)
}

// Batch makes n SayHello calls from `parallel` goroutines and counts the
// answering instances by ID. A failed call is counted under "error".
func Batch(ctx context.Context, c greeterv1.GreeterClient, n, parallel int) map[string]int {
	var mu sync.Mutex
	counts := make(map[string]int)
	var wg sync.WaitGroup
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	for range parallel {
		wg.Go(func() {
			for range jobs {
				id := "error"
				if res, err := c.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "t"}); err == nil {
					id = res.GetGreeting().GetInstanceId()
				}
				mu.Lock()
				counts[id]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return counts
}

// Poll runs check until it returns nil or testutil.DefaultTimeout passes,
// then fails the test with check's last error.
func Poll(t testing.TB, check func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	for {
		err := check(ctx)
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("condition did not hold within %v: %v", testutil.DefaultTimeout, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// SharesMatch reports how counts differ from the shares of weights (by
// instance ID "g0", "g1"…), allowing tol of absolute share per instance.
func SharesMatch(counts map[string]int, weights []uint32, tol float64) error {
	var total, wsum float64
	for _, n := range counts {
		total += float64(n)
	}
	for _, w := range weights {
		wsum += float64(w)
	}
	for i, w := range weights {
		got := float64(counts[fmt.Sprintf("g%d", i)]) / total
		if want := float64(w) / wsum; got < want-tol || got > want+tol {
			return fmt.Errorf("g%d share %.3f, want %.3f ±%.2f (counts %v)", i, got, want, tol, counts)
		}
	}
	return nil
}

// SlowStart checks policy's slow start over loopback with real greeters.
// Three greeters serve at full weight; a fourth, behind a fault proxy, is
// added. In the first eighth of the slowStartWindow after it connects it must
// take under early of the calls (its fair share is a quarter), and after the
// window its fair share within tol. Then its connections are dropped: once it
// reconnects, the ramp must start over.
func SlowStart(t *testing.T, policy string, early, tol float64) {
	const window = 3 * time.Second
	gs := StartGreeters(t, 1, 1, 1, 1)
	proxy := registrytest.StartProxy(t, gs[3].Addr)
	added := gs[3].Instance()
	added.Addr = proxy.Addr()
	first := Instances(gs[:3]...)
	dialed := time.Now()
	client, r := DialManual(t, ServiceConfig(policy, fmt.Sprintf(`{"slowStartWindow":%q}`, window)), first)
	Poll(t, func(ctx context.Context) error {
		if counts := Batch(ctx, client, 60, 3); counts["g0"] == 0 || counts["g1"] == 0 || counts["g2"] == 0 || counts["error"] > 0 {
			return fmt.Errorf("counts %v: want all three greeters serving", counts)
		}
		return nil
	})

	// rampsFromConnect waits for the proxy to carry a connection, then checks
	// the added greeter's share over the first eighth of the window and,
	// after the window, that it reaches its fair share.
	rampsFromConnect := func(what string, conns int) {
		t.Helper()
		Poll(t, func(context.Context) error {
			if proxy.Accepted() <= conns {
				return fmt.Errorf("%s: the added greeter never connected", what)
			}
			return nil
		})
		ready := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
		defer cancel()
		total := map[string]int{}
		for time.Since(ready) < window/8 {
			for id, n := range Batch(ctx, client, 12, 4) { // small batches: the last ends soon after the eighth
				total[id] += n
			}
		}
		calls := total["g0"] + total["g1"] + total["g2"] + total["g3"]
		if total["error"] > 0 || calls == 0 {
			t.Fatalf("%s: counts %v in the first eighth of the window: want calls, none failed", what, total)
		}
		share := float64(total["g3"]) / float64(calls)
		t.Logf("%s: the added greeter took %.3f of %d calls in the first eighth of its window", what, share, calls)
		if share >= early {
			t.Fatalf("%s: the ramping greeter took %.3f of the calls in the first eighth of its window (counts %v), want < %.2f (fair: 0.25)", what, share, total, early)
		}
		time.Sleep(time.Until(ready.Add(window + 100*time.Millisecond)))
		Poll(t, func(ctx context.Context) error {
			counts := Batch(ctx, client, 200, 4)
			if share := float64(counts["g3"]) / 200; counts["error"] > 0 || share < 0.25-tol || share > 0.25+tol {
				return fmt.Errorf("%s: after the window the added greeter took %.3f of the calls (counts %v), want 0.25 ±%.2f", what, share, counts, tol)
			}
			return nil
		})
	}

	// The first three ramp from their own start; add the fourth once they
	// are at full weight.
	time.Sleep(time.Until(dialed.Add(window + 100*time.Millisecond)))
	r.UpdateState(resolver.State{Endpoints: kitresolver.Endpoints(append(first, added))})
	rampsFromConnect("added", 0)
	conns := proxy.Accepted()
	proxy.DropAll()
	rampsFromConnect("after a reconnect", conns)
}
