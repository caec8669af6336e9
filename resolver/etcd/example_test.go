package etcd_test

import (
	"context"
	"log"
	"net"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/grpckit/grpckit/balancer/wrr"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/etcd"
)

// A server registers the address clients dial and deregisters when it
// stops; a client dials the service by name and spreads its calls over every
// instance by weight. Without the loadBalancingConfig grpc-go would use
// pick_first and send every call to one instance.
func Example() {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            []string{"127.0.0.1:2379"},
		DialTimeout:          5 * time.Second,
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 2 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer cli.Close()

	// The server: listen on every interface, serve grpc.health.v1 as SERVING
	// for health checkers, and register the machine's address.
	lis, err := net.Listen("tcp", ":50051")
	if err != nil {
		log.Fatal(err)
	}
	srv, hs := grpc.NewServer(), health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(lis)
	kitresolver.SetServing(hs)
	inst := kitresolver.Instance{Service: "greeter", Addr: "10.0.0.7:50051", Weight: 2, Zone: "eu-1a"}
	reg, err := etcd.Register(context.Background(), cli, inst)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { // in this order: NOT_SERVING, out of etcd, then stop
		hs.Shutdown()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := reg.Deregister(ctx); err != nil {
			log.Print(err) // the key expires with its lease
		}
		srv.GracefulStop()
	}()

	// The client.
	conn, err := grpc.NewClient("etcd:///greeter",
		grpc.WithResolvers(etcd.NewBuilder(cli)),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"`+wrr.Name+`":{}}]}`),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	_ = greeterv1.NewGreeterClient(conn)
}
