package etcd_test

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc"

	_ "github.com/grpckit/grpckit/balancer/consistenthash"
	_ "github.com/grpckit/grpckit/balancer/p2c"
	_ "github.com/grpckit/grpckit/balancer/wrr"
	"github.com/grpckit/grpckit/internal/testutil"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	"github.com/grpckit/grpckit/registrytest"
	"github.com/grpckit/grpckit/resolver/etcd"
)

// TestSharedWatchManyPolicies: channels under different balancing policies
// share one watch and so one endpoint list; under -race, a change reaches
// every channel and no policy writes to the list the others read.
func TestSharedWatchManyPolicies(t *testing.T) {
	cluster := registrytest.StartEtcd(t)
	cli := newClient(t, cluster.Endpoints()[0])
	g1, _ := startGreeter(t, cli, "greeter")
	b := etcd.NewBuilder(cli)
	policies := []string{"round_robin", "pick_first", "grpckit_weighted_round_robin", "grpckit_p2c", "grpckit_consistent_hash"}
	var clients []greeterv1.GreeterClient
	for i := range 4 * len(policies) {
		cfg := fmt.Sprintf(`{"loadBalancingConfig":[{%q:{}}]}`, policies[i%len(policies)])
		c, _ := dial(t, "etcd:///greeter", b, grpc.WithDefaultServiceConfig(cfg))
		clients = append(clients, c)
	}
	allServe := func() {
		t.Helper()
		ctx := timeoutCtx(t, testutil.DefaultTimeout)
		for i, c := range clients {
			for {
				_, err := hello(ctx, c)
				if err == nil {
					break
				}
				select {
				case <-ctx.Done():
					t.Fatalf("channel %d (%s): %v", i, policies[i%len(policies)], err)
				case <-time.After(10 * time.Millisecond):
				}
			}
		}
	}
	allServe()
	g2, _ := startGreeter(t, cli, "greeter")
	allServe()
	for i, c := range clients {
		if policies[i%len(policies)] == "round_robin" { // it spreads: each sees g2 soon
			waitServedBy(t, c, g1.Addr, g2.Addr)
		}
	}
	if n := etcd.Watches(b); n != 1 {
		t.Fatalf("%d watches for %d channels of one service, want 1", n, len(clients))
	}
}
