package shedding_test

import (
	"fmt"

	"google.golang.org/grpc"

	"github.com/grpckit/grpckit/interceptor/shedding"
)

func Example() {
	l := shedding.New()
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(shedding.UnaryServerInterceptor(l)),
		grpc.ChainStreamInterceptor(shedding.StreamServerInterceptor(l)),
	)
	defer srv.Stop()
	// Register services and serve; l learns when to shed from what it sees.
	fmt.Println("shedding:", l.Stats().Rate > 0)
	// Output: shedding: false
}
