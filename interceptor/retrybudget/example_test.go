package retrybudget_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/grpckit/grpckit/interceptor/retrybudget"
	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// A client that retries Unavailable up to 5 attempts, but only as far as
// half of its recent successes allow: two successes pay for one retry, so
// three calls to a failing backend reach it four times, not fifteen.
func Example() {
	srv, err := greeter.Serve(kitresolver.Instance{ID: "greeter-1"})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Stop()
	b, err := retrybudget.New(
		retrybudget.WithRatio(0.5),
		retrybudget.WithMinPerSecond(0),
		retrybudget.WithPolicy(retrybudget.Policy{
			MaxAttempts:          5,
			InitialBackoff:       10 * time.Millisecond,
			MaxBackoff:           100 * time.Millisecond,
			BackoffMultiplier:    2,
			RetryableStatusCodes: []codes.Code{codes.Unavailable},
		}),
	)
	if err != nil {
		log.Fatal(err)
	}
	cc, err := grpc.NewClient(srv.Addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDisableRetry(), // the interceptor retries; gRPC must not retry again
		grpc.WithChainUnaryInterceptor(b.UnaryClientInterceptor()),
		grpc.WithChainStreamInterceptor(b.StreamClientInterceptor()),
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

	_, _ = hello(), hello()
	fmt.Println("retries available:", b.Available())
	srv.SetFailure(codes.Unavailable)
	for range 3 {
		_ = hello()
	}
	fmt.Println("server calls:", srv.Calls())
	// Output:
	// retries available: 1
	// server calls: 6
}
