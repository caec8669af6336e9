package breaker_test

import (
	"context"
	"fmt"
	"log"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/interceptor/breaker"
	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// A client whose breaker opens after two failures in a row, then fails fast
// without calling the server.
func Example() {
	srv, err := greeter.Serve(kitresolver.Instance{ID: "greeter-1"})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Stop()
	srv.SetFailure(codes.Unavailable) // the backend is down

	g, err := breaker.New(
		breaker.WithConsecutiveFailures(2),
		breaker.WithOnStateChange(func(key string, from, to breaker.State) {
			fmt.Printf("%s: %v -> %v\n", key, from, to)
		}),
	)
	if err != nil {
		log.Fatal(err)
	}
	cc, err := grpc.NewClient(srv.Addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(g.UnaryClientInterceptor()),
		grpc.WithChainStreamInterceptor(g.StreamClientInterceptor()),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	client := greeterv1.NewGreeterClient(cc)

	for range 3 {
		_, err := client.SayHello(context.Background(), &greeterv1.SayHelloRequest{Name: "ada"})
		fmt.Println(status.Code(err), status.Convert(err).Message())
	}
	fmt.Println("server calls:", srv.Calls())
	// Output:
	// Unavailable greeter greeter-1: failing on purpose
	// /greeter.v1.Greeter/SayHello: closed -> open
	// Unavailable greeter greeter-1: failing on purpose
	// Unavailable breaker: /greeter.v1.Greeter/SayHello: circuit open
	// server calls: 2
}
