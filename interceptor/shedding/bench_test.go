package shedding

import (
	"context"
	"math"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

var benchInfo = &grpc.UnaryServerInfo{FullMethod: "/greeter.v1.Greeter/SayHello"}

func okHandler(context.Context, any) (any, error) { return nil, nil }

// BenchmarkUnaryServerInterceptor is the interceptor's cost with no
// overload, beside the bare handler call it wraps.
func BenchmarkUnaryServerInterceptor(b *testing.B) {
	b.Run("anchor=bare", func(b *testing.B) {
		b.ReportAllocs()
		ctx := context.Background()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = okHandler(ctx, nil)
			}
		})
	})
	b.Run("grpckit", func(b *testing.B) {
		in := UnaryServerInterceptor(New())
		b.ReportAllocs()
		ctx := context.Background()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = in(ctx, nil, benchInfo, okHandler)
			}
		})
	})
}

// BenchmarkUnaryServerInterceptorShedding is the interceptor's cost while
// the limiter sheds, with the criticality header in mixed case: one call in
// four exceeds the rate and is shed (the rejection's status and trailer are
// not counted; gRPC would make them), the others take the admission's CAS.
func BenchmarkUnaryServerInterceptorShedding(b *testing.B) {
	l := New()
	l.tolerance[Critical+1].Store(int64(time.Millisecond))
	l.windowEnd.Store(math.MaxInt64) // the rate holds
	l.tat.Store(l.now())
	l.interval.Store(1)
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(CriticalityHeader, "Critical"))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			now := l.now()
			_ = l.allow(ctx, now)
		}
	})
}

// TestAdmitAllocs: admitting a call allocates nothing, with no overload and
// while shedding (the call admitted at the rate).
func TestAdmitAllocs(t *testing.T) {
	l, c, p := newFake()
	in := UnaryServerInterceptor(l)
	ctx := context.Background()
	if n := testing.AllocsPerRun(1000, func() { _, _ = in(ctx, nil, benchInfo, okHandler) }); n != 0 {
		t.Errorf("%v allocations per call with no overload, want 0", n)
	}
	overload(l, c, p)
	interval := l.interval.Load()
	if n := testing.AllocsPerRun(1000, func() {
		c.ns.Add(interval) // one call per interval: each is admitted
		if _, err := in(ctx, nil, benchInfo, okHandler); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per call admitted while shedding, want 0", n)
	}
}
