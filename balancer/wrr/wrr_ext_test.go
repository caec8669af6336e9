package wrr_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/balancer/internal/shardtest"
	"github.com/grpckit/grpckit/balancer/wrr"
	"github.com/grpckit/grpckit/registrytest"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/etcd"
)

var serviceConfig = shardtest.ServiceConfig(wrr.Name, `{}`)

func TestEndToEndDistributionFollowsWeights(t *testing.T) {
	gs := shardtest.StartGreeters(t, 1, 2, 3)
	client, r := shardtest.DialManual(t, serviceConfig, shardtest.Instances(gs...))
	shardtest.Poll(t, func(ctx context.Context) error {
		return shardtest.SharesMatch(shardtest.Batch(ctx, client, 60, 1), []uint32{1, 2, 3}, 0.05)
	})

	// A weight change reaches the balancer without reconnecting.
	insts := shardtest.Instances(gs...)
	insts[0].Weight, insts[2].Weight = 4, 1
	r.UpdateState(resolver.State{Endpoints: kitresolver.Endpoints(insts)})
	shardtest.Poll(t, func(ctx context.Context) error {
		return shardtest.SharesMatch(shardtest.Batch(ctx, client, 70, 1), []uint32{4, 2, 1}, 0.05)
	})

	// A backend that goes away stops getting traffic; no call fails for good.
	gs[0].Stop()
	shardtest.Poll(t, func(ctx context.Context) error {
		return shardtest.SharesMatch(shardtest.Batch(ctx, client, 30, 1), []uint32{0, 2, 1}, 0.05)
	})
}

func TestEndToEndBehindEtcd(t *testing.T) {
	cluster := registrytest.StartEtcd(t)
	cli := cluster.Client(t)
	gs := shardtest.StartGreeters(t, 3, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, inst := range shardtest.Instances(gs...) {
		reg, err := etcd.Register(ctx, cli, inst)
		if err != nil {
			t.Fatalf("etcd.Register(%v): %v", inst, err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			reg.Deregister(ctx)
		})
	}
	client := shardtest.Dial(t, "etcd:///greeter", serviceConfig, grpc.WithResolvers(etcd.NewBuilder(cli)))
	shardtest.Poll(t, func(ctx context.Context) error {
		return shardtest.SharesMatch(shardtest.Batch(ctx, client, 40, 1), []uint32{3, 1}, 0.05)
	})
}

func TestEndToEndSlowStart(t *testing.T) { shardtest.SlowStart(t, wrr.Name, 0.12, 0.05) }
