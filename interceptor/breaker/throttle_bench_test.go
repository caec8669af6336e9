package breaker

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// BenchmarkThrottle is a call through adaptive throttling around a no-op
// invoker, beside the Group's closed breaker on the same invoker: key
// lookup, the window's sums, the outcome's count. "failing" runs it with
// every call failing, so that most are refused.
func BenchmarkThrottle(b *testing.B) {
	ctx := context.Background()
	newT := func(b *testing.B) *Throttle {
		t, err := NewThrottle(Throttling{})
		if err != nil {
			b.Fatal(err)
		}
		return t
	}
	b.Run("breaker", func(b *testing.B) {
		unary := mustNew(nil).UnaryClientInterceptor()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = unary(ctx, method, nil, nil, nil, peerInvoker)
			}
		})
	})
	b.Run("throttle", func(b *testing.B) {
		unary := newT(b).UnaryClientInterceptor()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = unary(ctx, method, nil, nil, nil, peerInvoker)
			}
		})
	})
	b.Run("throttle_failing", func(b *testing.B) {
		unary := newT(b).UnaryClientInterceptor()
		unavailable := status.Error(codes.Unavailable, "down")
		failing := func(_ context.Context, _ string, _, _ any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
			reached(opts)
			return unavailable
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = unary(ctx, method, nil, nil, nil, failing)
			}
		})
	})
	b.Run("throttle_serial", func(b *testing.B) {
		unary := newT(b).UnaryClientInterceptor()
		b.ReportAllocs()
		for b.Loop() {
			_ = unary(ctx, method, nil, nil, nil, peerInvoker)
		}
	})
}
