package stack_test

import (
	"testing"

	"github.com/grpckit/grpckit/interceptor/stack"
)

// BenchmarkUnaryRPCShedding compares a unary call over loopback through the
// server stack without tracing, with its default adaptive limiter and
// without it, beside a bare grpc-go server and client: what shedding costs
// a server that is not overloaded. Target: stack ≤ 1.02× stack/noshedding.
func BenchmarkUnaryRPCShedding(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		runUnary(b, benchClient(b, nil, nil))
	})
	for _, v := range []struct {
		name string
		opts []stack.ServerOption
	}{
		{"stack/noshedding", []stack.ServerOption{stack.WithoutTracing(), stack.WithoutShedding()}},
		{"stack", []stack.ServerOption{stack.WithoutTracing()}},
	} {
		b.Run(v.name, func(b *testing.B) {
			sopts, err := stack.Server(v.opts...)
			if err != nil {
				b.Fatal(err)
			}
			copts, err := stack.Client(stack.WithoutTracing())
			if err != nil {
				b.Fatal(err)
			}
			runUnary(b, benchClient(b, sopts, copts))
		})
	}
}
