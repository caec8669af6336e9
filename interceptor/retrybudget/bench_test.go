package retrybudget

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
)

var benchAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50051}

// okInvoker succeeds at once, filling in the peer as gRPC does for a call
// that reached a backend.
func okInvoker(_ context.Context, _ string, _, _ any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
	for _, o := range opts {
		if p, ok := o.(grpc.PeerCallOption); ok {
			p.PeerAddr.Addr = benchAddr
		}
	}
	return nil
}

// BenchmarkUnary is a successful call through the interceptor around a
// no-op invoker (the deposit, the trailer option), beside the invoker
// alone.
func BenchmarkUnary(b *testing.B) {
	ctx := context.Background()
	b.Run("invoker", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = okInvoker(ctx, "/m", nil, nil, nil)
			}
		})
	})
	b.Run("interceptor", func(b *testing.B) {
		bud, err := New()
		if err != nil {
			b.Fatal(err)
		}
		unary := bud.UnaryClientInterceptor()
		_ = unary(ctx, "/m", nil, nil, nil, okInvoker)
		if e := bud.epoch(); bud.deposits[e%uint32(len(bud.deposits))].count(e, 1) != 1 {
			b.Fatal("a successful call deposited nothing")
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = unary(ctx, "/m", nil, nil, nil, okInvoker)
			}
		})
	})
}
