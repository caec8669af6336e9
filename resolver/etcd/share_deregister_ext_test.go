package etcd_test

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/grpckit/grpckit/internal/testutil"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	"github.com/grpckit/grpckit/registrytest"
	"github.com/grpckit/grpckit/resolver/etcd"
)

// TestSharedWatchDeregisterOneOfTwo: 20 channels share a watch of two
// instances, each channel called once; one instance deregisters while its
// server keeps running. Every channel answers its next calls, each within
// its deadline, and never from an error: the shared watch publishes the one
// remaining instance to all, with no transient empty or error state.
//
// grpckit_consistent_hash is left out: its first call on a channel that has
// just left idle waits until its deadline even with grpc-go's manual
// resolver (a balancer defect, reported; not the resolver's).
func TestSharedWatchDeregisterOneOfTwo(t *testing.T) {
	cluster := registrytest.StartEtcd(t)
	cli := newClient(t, cluster.Endpoints()[0])
	g1, _ := startGreeter(t, cli, "greeter")
	g2, reg2 := startGreeter(t, cli, "greeter")
	b := etcd.NewBuilder(cli)
	policies := []string{"round_robin", "pick_first", "grpckit_weighted_round_robin", "grpckit_p2c"}
	var clients []greeterv1.GreeterClient
	for i := range 5 * len(policies) {
		cfg := fmt.Sprintf(`{"loadBalancingConfig":[{%q:{}}]}`, policies[i%len(policies)])
		c, _ := dial(t, "etcd:///greeter", b, grpc.WithDefaultServiceConfig(cfg))
		clients = append(clients, c)
	}
	for i, c := range clients {
		if policies[i%len(policies)] == "round_robin" {
			waitServedBy(t, c, g1.Addr, g2.Addr)
		} else if _, err := hello(timeoutCtx(t, testutil.DefaultTimeout), c); err != nil {
			t.Fatalf("channel %d (%s): %v", i, policies[i%len(policies)], err)
		}
	}
	if err := reg2.Deregister(timeoutCtx(t, testutil.DefaultTimeout)); err != nil {
		t.Fatalf("Deregister: %v", err)
	}
	for round := range 3 {
		for i, c := range clients {
			start := time.Now()
			if _, err := hello(timeoutCtx(t, testutil.DefaultTimeout), c); err != nil {
				t.Errorf("round %d, channel %d (%s): after %v: %v", round, i, policies[i%len(policies)], time.Since(start), err)
			}
		}
	}
	for i, c := range clients {
		if policies[i%len(policies)] == "round_robin" {
			waitServedBy(t, c, g1.Addr)
		}
	}
}
