package p2c_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/grpckit/grpckit/balancer/p2c"
	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// A client that balances with p2c, tuned to forget latency faster than the
// default and to charge failures 500ms.
func Example() {
	backend, err := greeter.Serve(kitresolver.Instance{ID: "greeter-1", Service: "greeter"})
	if err != nil {
		log.Fatal(err)
	}
	defer backend.Stop()

	lb, err := p2c.Policy(p2c.WithDecayTime(5*time.Second), p2c.WithErrorPenalty(500*time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	r := manual.NewBuilderWithScheme("example")
	r.InitialState(resolver.State{Endpoints: kitresolver.Endpoints([]kitresolver.Instance{backend.Instance()})})
	conn, err := grpc.NewClient("example:///greeter",
		grpc.WithResolvers(r),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		lb.DialOption())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := greeterv1.NewGreeterClient(conn).SayHello(ctx, &greeterv1.SayHelloRequest{Name: "p2c"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.GetGreeting().GetMessage(), "from", res.GetGreeting().GetInstanceId())
	// Output: Hello, p2c! from greeter-1
}
