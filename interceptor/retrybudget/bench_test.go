package retrybudget

import (
	"context"
	"testing"

	"google.golang.org/grpc"
)

func okInvoker(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
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
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = unary(ctx, "/m", nil, nil, nil, okInvoker)
			}
		})
	})
}
