package scale

import (
	"fmt"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/resolver"

	_ "google.golang.org/grpc/balancer/roundrobin" // the anchor policy

	"github.com/grpckit/grpckit/balancer/consistenthash"
	"github.com/grpckit/grpckit/balancer/p2c"
	"github.com/grpckit/grpckit/balancer/wrr"
	"github.com/grpckit/grpckit/bench/internal/fakecc"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// sizes are the service sizes of the resolver benchmark.
var sizes = []int{10, 1000, 10000}

// pickerSizes are the endpoint counts of the picker benchmark. Bringing 10k
// endpoints to READY one by one on the fake ClientConn rebuilds a picker for
// each, which takes minutes for the ring of consistent hash.
var pickerSizes = []int{10, 100, 1000}

// BenchmarkResolverUpdate measures one registry change (an instance added,
// then removed again) until the etcd resolver reports the new set, with n
// instances registered; the anchor is the raw watch event for the same put
// on the same etcd.
func BenchmarkResolverUpdate(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("instances=%d/anchor=raw_watch", n), func(b *testing.B) {
			ctx := benchContext(b)
			cli := seed(b, ctx, n)
			wch := cli.Watch(clientv3.WithRequireLeader(ctx), prefix, clientv3.WithPrefix())
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				toggle(b, ctx, cli, n, i)
				if resp := <-wch; resp.Err() != nil {
					b.Fatal(resp.Err())
				}
			}
		})
		b.Run(fmt.Sprintf("instances=%d/resolver", n), func(b *testing.B) {
			ctx := benchContext(b)
			cli := seed(b, ctx, n)
			cc := watchResolver(b, ctx, cli, n)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				waitEndpoints(b, ctx, cc, toggle(b, ctx, cli, n, i))
			}
		})
	}
}

// BenchmarkPickerRebuild measures one resolver update of n endpoints, one
// weight changed, until the policy publishes its new picker, with every
// endpoint READY; grpc-go's round_robin is the anchor. Consistent hash
// rebuilds its table (ringSize slots, 1M by default) when a weight changes.
func BenchmarkPickerRebuild(b *testing.B) {
	policies := []string{"round_robin", wrr.Name, p2c.Name, consistenthash.Name}
	for _, n := range pickerSizes {
		states := twoStates(n)
		for _, policy := range policies {
			b.Run(fmt.Sprintf("endpoints=%d/policy=%s", n, policy), func(b *testing.B) {
				bal, err := fakecc.Build(policy, "")
				if err != nil {
					b.Fatal(err)
				}
				defer bal.Close()
				if _, err := bal.Update(states[0]); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					if _, err := bal.Resolve(states[(i+1)%2]); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// twoStates returns n endpoints twice, differing in the first one's weight.
func twoStates(n int) [2][]resolver.Endpoint {
	insts := fakecc.Instances(n)
	a := kitresolver.Endpoints(insts)
	insts[0].Weight = 2
	return [2][]resolver.Endpoint{a, kitresolver.Endpoints(insts)}
}
