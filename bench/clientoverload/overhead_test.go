package clientoverload

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/grpckit/grpckit/interceptor/breaker"
	"github.com/grpckit/grpckit/interceptor/retrybudget"
	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// BenchmarkUnaryRPC compares a unary call over loopback with no overload
// through adaptive throttling, through the retry budget, and through both,
// with the same call between a bare grpc-go server and client. Target:
// ≤ 1.02× bare. Besides the wall time it reports the CPU time per call of
// client and server together (cpu-ns/op), which the machine's other load
// disturbs less. The variants are named variant=..., so that
// benchstat -col /variant compares each with bare.
func BenchmarkUnaryRPC(b *testing.B) {
	throttle := func(b *testing.B) grpc.DialOption {
		t, err := breaker.NewThrottle(breaker.Throttling{})
		if err != nil {
			b.Fatal(err)
		}
		return grpc.WithChainUnaryInterceptor(t.UnaryClientInterceptor())
	}
	budget := func(b *testing.B) []grpc.DialOption {
		bud, err := retrybudget.New()
		if err != nil {
			b.Fatal(err)
		}
		return []grpc.DialOption{grpc.WithDisableRetry(), grpc.WithChainUnaryInterceptor(bud.UnaryClientInterceptor())}
	}
	b.Run("variant=bare", func(b *testing.B) { runUnary(b, benchClient(b)) })
	b.Run("variant=throttle", func(b *testing.B) { runUnary(b, benchClient(b, throttle(b))) })
	b.Run("variant=retrybudget", func(b *testing.B) { runUnary(b, benchClient(b, budget(b)...)) })
	b.Run("variant=throttle+retrybudget", func(b *testing.B) {
		runUnary(b, benchClient(b, append(budget(b), throttle(b))...))
	})
}

func benchClient(b *testing.B, copts ...grpc.DialOption) greeterv1.GreeterClient {
	b.Helper()
	srv := greeter.Start(b, kitresolver.Instance{ID: "bench"})
	cc, err := grpc.NewClient(srv.Addr, append(copts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cc.Close() })
	return greeterv1.NewGreeterClient(cc)
}

func runUnary(b *testing.B, c greeterv1.GreeterClient) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req := &greeterv1.SayHelloRequest{Name: "bench"}
	if _, err := c.SayHello(ctx, req); err != nil { // connect before timing
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.SayHello(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if cpu := cpuTime() - cpu; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
