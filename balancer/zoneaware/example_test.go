package zoneaware_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/grpckit/grpckit/balancer/lbconfig"
	"github.com/grpckit/grpckit/balancer/zoneaware"
	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// A client in zone eu-1b talks to greeters in eu-1a and eu-1b; with its own
// zone healthy, every call stays in it.
func Example() {
	var insts []kitresolver.Instance
	for i, zone := range []string{"eu-1a", "eu-1a", "eu-1b", "eu-1b"} {
		g, err := greeter.Serve(kitresolver.Instance{ID: fmt.Sprint("g", i), Service: "greeter", Zone: zone})
		if err != nil {
			log.Fatal(err)
		}
		defer g.Stop()
		insts = append(insts, g.Instance())
	}
	// A registry resolver (etcd:///greeter, consul:///greeter) fills in the
	// zones; here a manual resolver stands in.
	lb, err := zoneaware.Policy(lbconfig.RoundRobin(), zoneaware.WithLocalZone("eu-1b"))
	if err != nil {
		log.Fatal(err)
	}
	r := manual.NewBuilderWithScheme("example")
	r.InitialState(resolver.State{Endpoints: kitresolver.Endpoints(insts)})
	conn, err := grpc.NewClient("example:///greeter",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithResolvers(r),
		lb.DialOption())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	client := greeterv1.NewGreeterClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	greet := func() *greeterv1.Greeting {
		resp, err := client.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "example"})
		if err != nil {
			log.Fatal(err)
		}
		return resp.GetGreeting()
	}
	// While the channel connects, a call may land wherever READY endpoints
	// are (with fewer than half READY, zones are ignored). Once both eu-1b
	// greeters have answered, the local zone is READY and takes every call.
	for local := map[string]bool{}; len(local) < 2; {
		if g := greet(); g.GetZone() == "eu-1b" {
			local[g.GetInstanceId()] = true
		}
	}
	for range 3 {
		fmt.Println(greet().GetZone())
	}
	// Output:
	// eu-1b
	// eu-1b
	// eu-1b
}
