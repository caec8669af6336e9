package consul_test

import (
	"log"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/grpckit/grpckit/resolver/consul"
)

// A client with a token may name in its targets only the configured agent,
// loopback agents and those WithAllowedAgents lists. Each is reached with the
// configured scheme and TLS settings: with CONSUL_HTTP_ADDR=https://... and
// CONSUL_CACERT, consul-b is reached over TLS and its certificate checked.
func ExampleWithAllowedAgents() {
	b := consul.NewBuilder(
		consul.WithTokenFile("/etc/consul.d/client-token"),
		consul.WithAllowedAgents("consul-b.internal:8501", "10.0.7.12"),
	)
	cc, err := grpc.NewClient("consul://consul-b.internal:8501/greeter",
		grpc.WithResolvers(b),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
}
