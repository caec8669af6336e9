package wrr

import (
	"fmt"
	"testing"

	_ "google.golang.org/grpc/balancer/roundrobin" // the anchor

	"github.com/grpckit/grpckit/balancer/internal/shardtest"
)

// BenchmarkPick compares this policy's Pick with grpc-go's round_robin, both
// built through a fake ClientConn with every endpoint READY. Compare with
//
//	benchstat -col /policy bench.txt
func BenchmarkPick(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		for _, policy := range []string{"round_robin", Name} {
			b.Run(fmt.Sprintf("endpoints=%d/policy=%s", n, policy), func(b *testing.B) {
				shardtest.BenchmarkPicker(b, shardtest.ReadyPicker(b, policy, n))
			})
		}
	}
}
