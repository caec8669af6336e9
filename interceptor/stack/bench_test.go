package stack_test

import (
	"context"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/grpckit/grpckit/interceptor/ratelimit"
	"github.com/grpckit/grpckit/interceptor/stack"
	"github.com/grpckit/grpckit/interceptor/tracing"
	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// benchTimeout bounds one timed run of a benchmark.
const benchTimeout = time.Minute

// BenchmarkUnaryRPC compares a unary call over loopback through the stack
// without tracing (recovery and a rate limiter that always admits on the
// server; the pushback-only limiter and a breaker on the client) with the
// same call between a bare grpc-go server and client, and the same stack
// with tracing on and a tracer that samples nothing (parent-based, never
// sampling). Targets: stack ≤ 1.03× bare, stack+tracing/unsampled ≤ 1.10×
// bare.
//
// Client and server share the process, so besides the wall time per call the
// benchmark reports the CPU time per call, both sides together (cpu-ns/op):
// on a machine busy with other work the wall time mostly measures the
// neighbours, the CPU time much less so.
func BenchmarkUnaryRPC(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		runUnary(b, benchClient(b, nil, nil))
	})
	b.Run("stack", func(b *testing.B) {
		admitAll, err := ratelimit.NewTokenBucket(rate.Inf, 1)
		if err != nil {
			b.Fatal(err)
		}
		sopts, err := stack.Server(stack.WithoutTracing(), stack.WithLimiter(admitAll))
		if err != nil {
			b.Fatal(err)
		}
		copts, err := stack.Client(stack.WithoutTracing())
		if err != nil {
			b.Fatal(err)
		}
		runUnary(b, benchClient(b, sopts, copts))
	})
	b.Run("stack+tracing/unsampled", func(b *testing.B) {
		admitAll, err := ratelimit.NewTokenBucket(rate.Inf, 1)
		if err != nil {
			b.Fatal(err)
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		tr := stack.WithTracing(tracing.WithTracerProvider(tp), tracing.WithPropagators(w3c))
		sopts, err := stack.Server(tr, stack.WithLimiter(admitAll))
		if err != nil {
			b.Fatal(err)
		}
		copts, err := stack.Client(tr)
		if err != nil {
			b.Fatal(err)
		}
		runUnary(b, benchClient(b, sopts, copts))
	})
}

// benchClient serves the greeter with sopts on 127.0.0.1 and returns a
// connected client dialled with copts.
func benchClient(b *testing.B, sopts []grpc.ServerOption, copts []grpc.DialOption) greeterv1.GreeterClient {
	b.Helper()
	srv := greeter.Start(b, kitresolver.Instance{ID: "bench"}, sopts...)
	cc, err := grpc.NewClient(srv.Addr, append(copts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cc.Close() })
	return greeterv1.NewGreeterClient(cc)
}

func runUnary(b *testing.B, c greeterv1.GreeterClient) {
	ctx, cancel := context.WithTimeout(context.Background(), benchTimeout)
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
