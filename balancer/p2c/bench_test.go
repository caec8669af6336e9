package p2c

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/balancer/leastrequest" // the anchor: choiceCount 2, its default
	_ "google.golang.org/grpc/balancer/roundrobin" // context: the cheapest pick

	"github.com/grpckit/grpckit/balancer/internal/shard"
	"github.com/grpckit/grpckit/balancer/internal/shardtest"
)

// BenchmarkPick compares this policy's Pick and Done with grpc-go's
// least_request_experimental, the policy that does the same kind of work
// (two random candidates, the less loaded taken, a counter held until Done),
// at its default choiceCount of 2, and with round_robin for context. All are
// built through a fake ClientConn with every endpoint READY and measured in
// one run, side by side; scripts/bench.sh runs them at -cpu 1 and -cpu 2.
// Compare with
//
//	benchstat -col /policy bench.txt
func BenchmarkPick(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		for _, policy := range []string{leastrequest.Name, "round_robin", Name} {
			b.Run(fmt.Sprintf("endpoints=%d/policy=%s", n, policy), func(b *testing.B) {
				shardtest.BenchmarkPicker(b, shardtest.ReadyPicker(b, policy, n))
			})
		}
	}
}

// BenchmarkClock measures the clock reads a latency-aware pick is built
// from: time.Now (wall and monotonic), time.Since (monotonic only) and the
// policy's clock, shard.Monotonic. A sampled p2c RPC reads shard.Monotonic
// twice, at Pick and at Done; an unsampled one not at all.
func BenchmarkClock(b *testing.B) {
	start := time.Now()
	var sink int64
	b.Run("time.Now", func(b *testing.B) {
		for b.Loop() {
			sink += time.Now().UnixNano()
		}
	})
	b.Run("time.Since", func(b *testing.B) {
		for b.Loop() {
			sink += int64(time.Since(start))
		}
	})
	b.Run("shard.Monotonic", func(b *testing.B) {
		for b.Loop() {
			sink += shard.Monotonic()
		}
	})
	_ = sink
}
