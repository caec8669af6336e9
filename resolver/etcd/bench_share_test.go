package etcd

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/internal/testutil"
	"github.com/grpckit/grpckit/registrytest"
)

// BenchmarkPutToAllChannels measures a put until every one of n channels
// sharing the service's watch has the new state: beside channels=1 (the
// single-channel bound, BenchmarkPutToUpdateState's case) it shows what the
// fan-out to 100 and 500 channels adds. The registry holds one watcher for
// all of them.
func BenchmarkPutToAllChannels(b *testing.B) {
	cli := registrytest.StartEtcd(b).Client(b)
	for _, n := range []int{1, 100, 500} {
		b.Run(fmt.Sprintf("channels=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			bld := NewBuilder(cli)
			ccs := make([]*testutil.ResolverClientConn, n)
			for i := range ccs {
				ccs[i] = testutil.NewResolverClientConn()
				r, err := bld.Build(resolver.Target{URL: url.URL{Scheme: Scheme, Path: "/greeter"}}, ccs[i], resolver.BuildOptions{})
				if err != nil {
					b.Fatal(err)
				}
				defer r.Close()
				if _, err := ccs[i].States.Receive(ctx); err != nil {
					b.Fatal(err)
				}
			}
			lat := make([]time.Duration, 0, b.N)
			for i := 0; b.Loop(); i++ {
				start := time.Now()
				if _, err := cli.Put(ctx, "/services/greeter/a", fmt.Sprintf("127.0.0.1:%d", 1+i%60000)); err != nil {
					b.Fatal(err)
				}
				for _, cc := range ccs {
					if _, err := cc.States.Receive(ctx); err != nil {
						b.Fatal(err)
					}
				}
				lat = append(lat, time.Since(start))
			}
			reportP99(b, lat)
		})
	}
}
