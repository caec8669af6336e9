package etcd

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/internal/testutil"
	"github.com/grpckit/grpckit/registrytest"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// reportP99 records the 99th percentile of latencies as a metric.
func reportP99(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkPutToWatchEvent is the anchor: a put, then its raw watch event.
func BenchmarkPutToWatchEvent(b *testing.B) {
	b.ReportAllocs()
	cli := registrytest.StartEtcd(b).Client(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	wch := cli.Watch(ctx, "/services/greeter/", clientv3.WithPrefix())
	lat := make([]time.Duration, 0, b.N)
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		if _, err := cli.Put(ctx, "/services/greeter/a", fmt.Sprintf("127.0.0.1:%d", 1+i%60000)); err != nil {
			b.Fatal(err)
		}
		if resp := <-wch; resp.Err() != nil {
			b.Fatal(resp.Err())
		}
		lat = append(lat, time.Since(start))
	}
	reportP99(b, lat)
}

// BenchmarkPutToUpdateState measures a put until the resolver hands the
// channel the new state.
func BenchmarkPutToUpdateState(b *testing.B) {
	b.ReportAllocs()
	cli := registrytest.StartEtcd(b).Client(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cc := testutil.NewResolverClientConn()
	r, err := NewBuilder(cli).Build(resolver.Target{URL: url.URL{Scheme: Scheme, Path: "/greeter"}}, cc, resolver.BuildOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	if _, err := cc.States.Receive(ctx); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		if _, err := cli.Put(ctx, "/services/greeter/a", fmt.Sprintf("127.0.0.1:%d", 1+i%60000)); err != nil {
			b.Fatal(err)
		}
		if _, err := cc.States.Receive(ctx); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	reportP99(b, lat)
}

func bigService(n int) []kitresolver.Instance {
	insts := make([]kitresolver.Instance, n)
	for i := range insts {
		insts[i] = kitresolver.Instance{ID: fmt.Sprintf("i%d", i), Service: "greeter", Addr: fmt.Sprintf("10.%d.%d.%d:50051", i>>16, (i>>8)&255, i&255), Weight: 1}
	}
	return insts
}

// BenchmarkApplyOneChange reweights one instance of an n-instance service
// and produces the endpoint list to publish: incrementally (the resolver's
// path) and by rebuilding every endpoint with kitresolver.Endpoints (the
// anchor, what publishing the whole set costs).
func BenchmarkApplyOneChange(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		insts := bigService(n)
		b.Run(fmt.Sprintf("incremental/n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			s := newInstanceSet()
			s.reset(insts)
			var eps []resolver.Endpoint
			for i := 0; b.Loop(); i++ {
				inst := insts[i%n]
				inst.Weight = uint32(2 + (i/n)%2)
				s.put(inst)
				eps = s.endpoints()
			}
			_ = eps
		})
		b.Run(fmt.Sprintf("rebuild/n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			cur := slices.Clone(insts)
			var eps []resolver.Endpoint
			for i := 0; b.Loop(); i++ {
				cur[i%n].Weight = uint32(2 + (i/n)%2)
				eps = kitresolver.Endpoints(cur)
			}
			_ = eps
		})
	}
}
