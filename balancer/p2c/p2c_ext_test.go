package p2c_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/grpckit/grpckit/balancer/internal/shardtest"
	"github.com/grpckit/grpckit/balancer/p2c"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	"github.com/grpckit/grpckit/registrytest"
	"github.com/grpckit/grpckit/resolver/etcd"
)

var serviceConfig = shardtest.ServiceConfig(p2c.Name, `{}`)

// slowGetsLess polls batches of 90 calls from 6 goroutines until the slow
// greeter g0 answers under 10% of them (its fair share is a third) and no
// call fails.
func slowGetsLess(t *testing.T, client greeterv1.GreeterClient) {
	t.Helper()
	shardtest.Poll(t, func(ctx context.Context) error {
		counts := shardtest.Batch(ctx, client, 90, 6)
		if counts["error"] > 0 || counts["g1"] == 0 || counts["g2"] == 0 {
			return fmt.Errorf("counts %v: want every call served, by both fast greeters", counts)
		}
		if share := float64(counts["g0"]) / 90; share >= 0.1 {
			return fmt.Errorf("slow greeter g0 took %.2f of the calls (counts %v), want < 0.10", share, counts)
		}
		return nil
	})
}

func TestEndToEndSlowBackendGetsLessTraffic(t *testing.T) {
	gs := shardtest.StartGreeters(t, 1, 1, 1)
	gs[0].SetDelay(20 * time.Millisecond)
	client, _ := shardtest.DialManual(t, serviceConfig, shardtest.Instances(gs...))
	slowGetsLess(t, client)
}

func TestEndToEndFailingBackendGetsLessTraffic(t *testing.T) {
	gs := shardtest.StartGreeters(t, 1, 1, 1)
	gs[1].SetDelay(2 * time.Millisecond)
	gs[2].SetDelay(2 * time.Millisecond)
	gs[0].SetFailure(codes.Unavailable) // fails at once: must not look fast
	client, _ := shardtest.DialManual(t, serviceConfig, shardtest.Instances(gs...))
	shardtest.Poll(t, func(ctx context.Context) error {
		before := gs[0].Calls()
		counts := shardtest.Batch(ctx, client, 90, 6)
		if failed := gs[0].Calls() - before; failed >= 9 {
			return fmt.Errorf("failing greeter got %d of 90 calls (counts %v), want < 9", failed, counts)
		}
		return nil
	})
}

func TestEndToEndBehindEtcd(t *testing.T) {
	cluster := registrytest.StartEtcd(t)
	cli := cluster.Client(t)
	gs := shardtest.StartGreeters(t, 1, 1, 1)
	gs[0].SetDelay(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, g := range gs {
		reg, err := etcd.Register(ctx, cli, g.Instance())
		if err != nil {
			t.Fatalf("etcd.Register(%v): %v", g.Instance(), err)
		}
		t.Cleanup(func() { deregister(t, reg) })
	}
	client := shardtest.Dial(t, "etcd:///greeter", serviceConfig, grpc.WithResolvers(etcd.NewBuilder(cli)))
	slowGetsLess(t, client)
}

func deregister(t *testing.T, reg *etcd.Registration) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := reg.Deregister(ctx); err != nil {
		t.Errorf("Deregister: %v", err)
	}
}

func TestEndToEndSlowStart(t *testing.T) { shardtest.SlowStart(t, p2c.Name, 0.13, 0.1) }
