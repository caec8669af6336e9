package consul_test

import (
	"testing"

	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/internal/testutil"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/consul"
)

// BenchmarkChangeShared is BenchmarkChange's resolver case with 500
// channels of one builder sharing the watcher: one registration change
// until every channel has the new state. Compare it with
// BenchmarkChange/resolver_update_state, the single-channel bound.
func BenchmarkChangeShared(b *testing.B) {
	const channels = 500
	cli := agent.Client()
	bld := consul.NewBuilder()
	ccs := make([]*testutil.ResolverClientConn, channels)
	for i := range ccs {
		ccs[i] = buildResolver(b, bld, target("bench-shared"))
	}
	benchChanges(b, cli, "bench-shared", func(w int) {
		for _, cc := range ccs {
			waitState(b, cc, func(s resolver.State) bool {
				return len(s.Endpoints) == 1 && kitresolver.WeightOf(s.Endpoints[0]) == uint32(w)
			})
		}
	})
}
