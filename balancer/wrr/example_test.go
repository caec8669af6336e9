package wrr_test

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
	"github.com/grpckit/grpckit/balancer/wrr"
	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// Two backends with weights 3 and 1, behind a resolver that sets Instance
// attributes: once both are READY, every four calls go three to "heavy" and
// one to "light".
func Example() {
	heavy, err := greeter.Serve(kitresolver.Instance{ID: "heavy", Service: "greeter", Weight: 3})
	if err != nil {
		log.Fatal(err)
	}
	defer heavy.Stop()
	light, err := greeter.Serve(kitresolver.Instance{ID: "light", Service: "greeter", Weight: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer light.Stop()

	r := manual.NewBuilderWithScheme("example")
	r.InitialState(resolver.State{Endpoints: kitresolver.Endpoints([]kitresolver.Instance{heavy.Instance(), light.Instance()})})
	conn, err := grpc.NewClient("example:///greeter",
		grpc.WithResolvers(r),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		lbconfig.Must(wrr.Policy()).DialOption())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	client := greeterv1.NewGreeterClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Wait until both backends have answered, so both are READY.
	seen := map[string]bool{}
	for len(seen) < 2 {
		res, err := client.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "warm-up"})
		if err != nil {
			log.Fatal(err)
		}
		seen[res.GetGreeting().GetInstanceId()] = true
	}
	counts := map[string]int{}
	for range 8 {
		res, err := client.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "example"})
		if err != nil {
			log.Fatal(err)
		}
		counts[res.GetGreeting().GetInstanceId()]++
	}
	fmt.Println("heavy:", counts["heavy"], "light:", counts["light"])
	// Output: heavy: 6 light: 2
}
