package breaker_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/interceptor/breaker"
	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// A client with adaptive throttling: while the backend answers, nothing is
// refused; once it fails every call, the client refuses most calls itself.
func ExampleNewThrottle() {
	srv, err := greeter.Serve(kitresolver.Instance{ID: "greeter-1"})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Stop()
	t, err := breaker.NewThrottle(breaker.Throttling{}, breaker.WithKey(breaker.ByTarget))
	if err != nil {
		log.Fatal(err)
	}
	cc, err := grpc.NewClient(srv.Addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(t.UnaryClientInterceptor()),
		grpc.WithChainStreamInterceptor(t.StreamClientInterceptor()),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	client := greeterv1.NewGreeterClient(cc)
	hello := func() error {
		_, err := client.SayHello(context.Background(), &greeterv1.SayHelloRequest{Name: "ada"})
		return err
	}

	for range 10 {
		if err := hello(); err != nil {
			log.Fatal(err)
		}
	}
	p, requests, accepts := t.Probability(srv.Addr)
	fmt.Printf("healthy: p=%.2f after %d requests, %d accepted\n", p, requests, accepts)

	srv.SetFailure(codes.Unavailable)
	for {
		msg := status.Convert(hello()).Message()
		if strings.HasPrefix(msg, "breaker:") {
			fmt.Println(msg[:strings.Index(msg, " with probability")])
			break
		}
	}
	// Output:
	// healthy: p=0.00 after 10 requests, 10 accepted
	// breaker: /greeter.v1.Greeter/SayHello: adaptive throttling: refused
}

// A Group in adaptive-throttling mode: the same interceptors as a breaker,
// built with one option.
func ExampleWithAdaptiveThrottling() {
	g, err := breaker.New(breaker.WithAdaptiveThrottling(breaker.Throttling{}), breaker.WithKey(breaker.ByTarget))
	if err != nil {
		log.Fatal(err)
	}
	_, err = breaker.New(breaker.WithAdaptiveThrottling(breaker.Throttling{}), breaker.WithSpread(0.5, 0))
	fmt.Println(err)
	_ = []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(g.UnaryClientInterceptor()),
		grpc.WithChainStreamInterceptor(g.StreamClientInterceptor()),
	}
	// Output:
	// breaker: WithAdaptiveThrottling has no open or closed state: WithSpread cannot be given with it
}
