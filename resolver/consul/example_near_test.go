package consul_test

import (
	"log"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	"github.com/grpckit/grpckit/resolver/consul"
)

// With near=_agent the resolver publishes the instances in the order Consul
// answers, nearest to the agent first (without near they are sorted by
// address). Only a policy that reads the order makes use of it: pick_first,
// gRPC's default, connects to the first instance it can reach, so the nearest,
// trying the next ones in order only when it cannot. round_robin and
// grpckit's wrr, p2c and consistent hash spread calls over every instance (by
// weight, load or key) and the order changes nothing for them; the parents
// zone-aware and outlier ejection leave it to their child policy.
func Example_near() {
	conn, err := grpc.NewClient("consul:///greeter?near=_agent",
		grpc.WithResolvers(consul.NewBuilder()),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"pick_first":{}}]}`))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	_ = greeterv1.NewGreeterClient(conn)
}
