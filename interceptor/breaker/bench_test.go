package breaker

import (
	"context"
	"testing"

	"github.com/sony/gobreaker/v2"
	"google.golang.org/grpc"
)

func noopInvoker(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
	return nil
}

// peerInvoker is noopInvoker that fills the call's grpc.Peer with a TCP
// address, as gRPC does, so the breaker notes which backend answered.
func peerInvoker(_ context.Context, _ string, _, _ any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
	reached(opts)
	return nil
}

// gobreakerAnchor is raw gobreaker with the same settings the Group uses.
func gobreakerAnchor() *gobreaker.CircuitBreaker[struct{}] {
	o := defaultOptions()
	return gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        method,
		MaxRequests: o.maxRequests,
		Interval:    o.interval,
		Timeout:     o.openTimeout,
		ReadyToTrip: o.readyToTrip,
	})
}

// BenchmarkClosed compares a call through a closed breaker: the anchor is
// raw gobreaker Execute around a no-op invoker, beside this package's unary
// interceptor around the same invoker (key lookup, Allow, classification,
// done, state-change hand-off). "invoker" is the no-op invoker alone.
func BenchmarkClosed(b *testing.B) {
	ctx := context.Background()
	b.Run("invoker", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = noopInvoker(ctx, method, nil, nil, nil)
			}
		})
	})
	b.Run("gobreaker_Execute", func(b *testing.B) {
		cb := gobreakerAnchor()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = cb.Execute(func() (struct{}, error) {
					return struct{}{}, noopInvoker(ctx, method, nil, nil, nil)
				})
			}
		})
	})
	b.Run("interceptor", func(b *testing.B) {
		unary := mustNew(nil).UnaryClientInterceptor()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = unary(ctx, method, nil, nil, nil, noopInvoker)
			}
		})
	})
	b.Run("interceptor_peer", func(b *testing.B) {
		unary := mustNew(nil).UnaryClientInterceptor()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = unary(ctx, method, nil, nil, nil, peerInvoker)
			}
		})
	})
}

// BenchmarkClosedSerial is BenchmarkClosed on one goroutine, where no lock
// contention hides the interceptor's own cost.
func BenchmarkClosedSerial(b *testing.B) {
	ctx := context.Background()
	b.Run("gobreaker_Execute", func(b *testing.B) {
		cb := gobreakerAnchor()
		b.ReportAllocs()
		for b.Loop() {
			_, _ = cb.Execute(func() (struct{}, error) {
				return struct{}{}, noopInvoker(ctx, method, nil, nil, nil)
			})
		}
	})
	b.Run("interceptor", func(b *testing.B) {
		unary := mustNew(nil).UnaryClientInterceptor()
		b.ReportAllocs()
		for b.Loop() {
			_ = unary(ctx, method, nil, nil, nil, noopInvoker)
		}
	})
	b.Run("interceptor_peer", func(b *testing.B) {
		unary := mustNew(nil).UnaryClientInterceptor()
		b.ReportAllocs()
		for b.Loop() {
			_ = unary(ctx, method, nil, nil, nil, peerInvoker)
		}
	})
}
