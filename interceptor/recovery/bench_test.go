package recovery_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"

	"github.com/grpckit/grpckit/interceptor/recovery"
)

// The anchors call the handler directly; the interceptors wrap that call.

var (
	unaryInfo  = &grpc.UnaryServerInfo{FullMethod: "/greeter.v1.Greeter/SayHello"}
	streamInfo = &grpc.StreamServerInfo{FullMethod: "/greeter.v1.Greeter/SayHelloBidi"}
)

// The handlers are package variables so the compiler cannot inline the
// anchors' calls away.
var (
	unaryHandler  grpc.UnaryHandler  = func(_ context.Context, req any) (any, error) { return req, nil }
	streamHandler grpc.StreamHandler = func(any, grpc.ServerStream) error { return nil }
)

func BenchmarkUnary(b *testing.B) {
	ctx := context.Background()
	handler := unaryHandler
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := handler(ctx, nil); err != nil {
					b.Error(err)
				}
			}
		})
	})
	b.Run("recovery", func(b *testing.B) {
		intercept := recovery.UnaryServerInterceptor()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := intercept(ctx, nil, unaryInfo, handler); err != nil {
					b.Error(err)
				}
			}
		})
	})
}

func BenchmarkStream(b *testing.B) {
	handler := streamHandler
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := handler(nil, nil); err != nil {
					b.Error(err)
				}
			}
		})
	})
	b.Run("recovery", func(b *testing.B) {
		intercept := recovery.StreamServerInterceptor()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := intercept(nil, nil, streamInfo, handler); err != nil {
					b.Error(err)
				}
			}
		})
	})
}
