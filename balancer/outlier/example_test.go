package outlier_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/balancer/lbconfig"
	"github.com/grpckit/grpckit/balancer/outlier"
	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// One of two greeters fails every call; after two failures in a row it is
// ejected and every later call goes to the healthy one. Round robin alone
// would keep sending it every other call.
func Example() {
	var insts []kitresolver.Instance
	for _, id := range []string{"healthy", "broken"} {
		g, err := greeter.Serve(kitresolver.Instance{ID: id, Service: "greeter"})
		if err != nil {
			log.Fatal(err)
		}
		defer g.Stop()
		if id == "broken" {
			g.SetFailure(codes.Unavailable)
		}
		insts = append(insts, g.Instance())
	}
	lb, err := outlier.Policy(lbconfig.RoundRobin(),
		outlier.WithConsecutiveFailures(2), outlier.WithBaseEjectionTime(time.Minute), outlier.WithMaxEjectionPercent(50))
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

	sayHello := func() string {
		resp, err := client.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "example"})
		if err != nil {
			return status.Code(err).String()
		}
		return resp.GetGreeting().GetInstanceId()
	}
	// The broken greeter fails twice (once it is connected, round robin
	// sends it every other call) and is ejected a moment after; wait until
	// then the healthy greeter has answered four times in a row.
	for failures, streak := 0, 0; failures < 2 || streak < 4; {
		if sayHello() == "healthy" {
			streak++
		} else {
			failures, streak = failures+1, 0
		}
	}
	for range 3 {
		fmt.Println(sayHello())
	}
	// Output:
	// healthy
	// healthy
	// healthy
}
