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

	_ "github.com/grpckit/grpckit/balancer/zoneaware" // registers grpckit_zone_aware
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
	r := manual.NewBuilderWithScheme("example")
	r.InitialState(resolver.State{Endpoints: kitresolver.Endpoints(insts)})
	conn, err := grpc.NewClient("example:///greeter",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithResolvers(r),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"grpckit_zone_aware":{
			"localZone":"eu-1b","childPolicy":[{"round_robin":{}}]}}]}`))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	client := greeterv1.NewGreeterClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	zoneOf := func() string {
		resp, err := client.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "example"})
		if err != nil {
			log.Fatal(err)
		}
		return resp.GetGreeting().GetZone()
	}
	// While the channel connects, a call may land wherever READY
	// endpoints are; wait until eu-1b answers twice in a row.
	for streak := 0; streak < 2; {
		if zoneOf() == "eu-1b" {
			streak++
		} else {
			streak = 0
		}
	}
	for range 3 {
		fmt.Println(zoneOf())
	}
	// Output:
	// eu-1b
	// eu-1b
	// eu-1b
}
