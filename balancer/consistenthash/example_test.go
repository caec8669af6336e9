package consistenthash_test

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/grpckit/grpckit/balancer/consistenthash"
	"github.com/grpckit/grpckit/balancer/lbconfig"
	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// Requests with the same key reach the same backend.
func Example() {
	var insts []kitresolver.Instance
	for i := range 3 {
		srv, _ := greeter.Serve(kitresolver.Instance{Service: "greeter", ID: fmt.Sprint("g", i)})
		defer srv.Stop()
		insts = append(insts, srv.Instance())
	}
	r := manual.NewBuilderWithScheme("example")
	r.InitialState(resolver.State{Endpoints: kitresolver.Endpoints(insts)})
	conn, _ := grpc.NewClient("example:///greeter", grpc.WithResolvers(r),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		lbconfig.Must(consistenthash.Policy(consistenthash.WithHashHeader("x-user-id"))).DialOption())
	defer conn.Close()
	client := greeterv1.NewGreeterClient(conn)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Wait until every backend answers, so no key is still walking past one
	// that is connecting.
	seen := map[string]bool{}
	for i := 0; len(seen) < len(insts) && ctx.Err() == nil; i++ {
		resp, err := client.SayHello(consistenthash.WithKey(ctx, fmt.Sprint("warm-", i)), &greeterv1.SayHelloRequest{Name: "warm-up"})
		if err == nil {
			seen[resp.GetGreeting().GetInstanceId()] = true
		}
	}

	ctx = consistenthash.WithKey(ctx, "user-42")
	first := ""
	same := true
	for range 5 {
		resp, err := client.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "alice"}, grpc.WaitForReady(true))
		if err != nil {
			fmt.Println(err)
			return
		}
		if first == "" {
			first = resp.GetGreeting().GetInstanceId()
		}
		same = same && resp.GetGreeting().GetInstanceId() == first
	}
	fmt.Println("same backend for every call:", same)
	// Output: same backend for every call: true
}
