package stack_test

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/grpckit/grpckit/interceptor/stack"
	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

func Example() {
	// The server: tracing and recovery (no rate limit unless WithLimiter).
	sopts, err := stack.Server()
	if err != nil {
		fmt.Println(err)
		return
	}
	srv, err := greeter.Serve(kitresolver.Instance{ID: "greeter-1"}, sopts...)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Stop()

	// The client: tracing, pushback-honouring rate limit and a breaker.
	copts, err := stack.Client()
	if err != nil {
		fmt.Println(err)
		return
	}
	cc, err := grpc.NewClient(srv.Addr, append(copts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cc.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := greeterv1.NewGreeterClient(cc).SayHello(ctx, &greeterv1.SayHelloRequest{Name: "stack"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.GetGreeting().GetMessage(), "from", resp.GetGreeting().GetInstanceId())

	// Invalid or conflicting options are refused when the stack is built.
	_, err = stack.Server(stack.WithLimiter(nil))
	fmt.Println(err)
	// Output:
	// Hello, stack! from greeter-1
	// stack: WithLimiter: nil limiter
}
