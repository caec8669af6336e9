package recovery_test

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/interceptor/recovery"
)

func Example() {
	// A server would install the interceptors with
	//   grpc.NewServer(
	//       grpc.ChainUnaryInterceptor(recovery.UnaryServerInterceptor(opts...)),
	//       grpc.ChainStreamInterceptor(recovery.StreamServerInterceptor(opts...)))
	// Here the unary one is called directly with a handler that panics.
	intercept := recovery.UnaryServerInterceptor(recovery.WithHandler(
		func(_ context.Context, p *recovery.Panic) error {
			fmt.Printf("%s panicked: %v\n", p.Method, p.Value)
			return status.Error(codes.Internal, "internal error")
		}))
	info := &grpc.UnaryServerInfo{FullMethod: "/greeter.v1.Greeter/SayHello"}
	_, err := intercept(context.Background(), nil, info, func(context.Context, any) (any, error) {
		panic("out of cheese")
	})
	fmt.Println(status.Code(err), status.Convert(err).Message())
	// Output:
	// /greeter.v1.Greeter/SayHello panicked: out of cheese
	// Internal internal error
}
