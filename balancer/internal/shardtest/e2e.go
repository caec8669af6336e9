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
