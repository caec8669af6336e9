package ratelimit_test

import (
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/grpckit/grpckit/interceptor/ratelimit"
)

func Example() {
	// 100 requests a second per caller, in bursts of up to 10.
	tb, err := ratelimit.NewTokenBucket(100, 10, ratelimit.WithMaxKeys(100_000))
	if err != nil {
		panic(err)
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(ratelimit.UnaryServerInterceptor(tb, ratelimit.WithKey(ratelimit.KeyPeer))),
		grpc.ChainStreamInterceptor(ratelimit.StreamServerInterceptor(tb, ratelimit.WithKey(ratelimit.KeyPeer))),
	)
	defer srv.Stop()

	allowed := 0
	for range 20 {
		if tb.Allow("10.0.0.7") {
			allowed++
		}
	}
	fmt.Println("burst admitted:", allowed)
	// Output: burst admitted: 10
}

func ExampleNewTokenBucket_neverAdmits() {
	_, err := ratelimit.NewTokenBucket(100, 0)
	fmt.Println(err)
	// Output: ratelimit: invalid configuration: burst 0 with the finite rate 100 can never admit a request
}

func ExampleNewSlidingWindow() {
	sw, err := ratelimit.NewSlidingWindow(3, time.Minute)
	if err != nil {
		panic(err)
	}
	for i := range 4 {
		fmt.Println(i, sw.Allow("api-key-1"))
	}
	// Output:
	// 0 true
	// 1 true
	// 2 true
	// 3 false
}

func ExampleNewClient() {
	// Honour the servers' pushback, without a local limit of our own: one
	// Client, so that a pushback on a unary call holds streams back too,
	// for at most two seconds whatever a server asks.
	rc := ratelimit.NewClient(ratelimit.Unlimited, ratelimit.WithMaxPushback(2*time.Second))
	cc, err := grpc.NewClient("localhost:50051",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(rc.UnaryClientInterceptor()),
		grpc.WithStreamInterceptor(rc.StreamClientInterceptor()),
	)
	if err != nil {
		panic(err)
	}
	defer cc.Close()
}
