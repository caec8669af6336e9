package consul_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/hashicorp/consul/api"

	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/consul"
)

// A server registers itself with its local agent and drains before it stops;
// a client dials the service by name.
func Example() {
	ctx := context.Background()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv, hs := grpc.NewServer(), health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(lis)
	kitresolver.SetServing(hs)

	cli, err := api.NewClient(api.DefaultConfig()) // CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, ...
	if err != nil {
		log.Fatal(err)
	}
	inst := kitresolver.Instance{Service: "greeter", Addr: lis.Addr().String(), Weight: 2, Zone: "eu-1a"}
	reg, err := consul.Register(ctx, cli, inst, consul.WithTags("v2"))
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		consul.GracefulStop(stopCtx, srv, hs, reg)
	}()

	conn, err := grpc.NewClient("consul:///greeter?tag=v2",
		grpc.WithResolvers(consul.NewBuilder()),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	_ = greeterv1.NewGreeterClient(conn)
}

// A token in the target is refused before anything is sent, and the error
// says where the token goes instead.
func Example_tokenInTarget() {
	conn, err := grpc.NewClient("consul:///greeter?token=s3cr3t",
		grpc.WithResolvers(consul.NewBuilder()),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = greeterv1.NewGreeterClient(conn).SayHello(ctx, &greeterv1.SayHelloRequest{Name: "x"})
	fmt.Println(status.Code(err))
	fmt.Println(status.Convert(err).Message())
	// Output:
	// Unavailable
	// consul: a target must not carry a token (gRPC logs targets); set CONSUL_HTTP_TOKEN or CONSUL_HTTP_TOKEN_FILE, or use consul.WithToken / consul.WithTokenFile
}

// One list of CommonOptions configures the resolver and the registrar alike;
// each side adds its own options, whose type says which side they are for.
func Example_commonOptions() {
	common := []consul.CommonOption{
		consul.WithRequestTimeout(2 * time.Second),
		consul.WithBackoff(kitresolver.Backoff{Base: 100 * time.Millisecond, Max: 5 * time.Second, Multiplier: 1.6, Jitter: 0.2}),
	}
	bopts := []consul.Option{consul.WithSnapshotDir("/var/cache/greeter")}
	ropts := []consul.RegisterOption{consul.WithWaitPassing()}
	for _, o := range common {
		bopts = append(bopts, o)
		ropts = append(ropts, o)
	}
	builder := consul.NewBuilder(bopts...) // for grpc.WithResolvers
	_, _ = builder, ropts                  // for consul.Register(ctx, cli, inst, ropts...)
}
