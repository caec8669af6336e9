package consistenthash_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestFirstCallOfNewChannels: the first call of a new channel, which finds
// every endpoint IDLE, is answered: picking an endpoint that is not READY
// starts its connection and the call waits for it, never past the
// connection's readiness.
func TestFirstCallOfNewChannels(t *testing.T) {
	g1 := greeter.Start(t, kitresolver.Instance{Service: "greeter"})
	g2 := greeter.Start(t, kitresolver.Instance{Service: "greeter"})
	for i := range 24 {
		r := manual.NewBuilderWithScheme("m")
		r.InitialState(resolver.State{Endpoints: []resolver.Endpoint{
			{Addresses: []resolver.Address{{Addr: g1.Addr}}},
			{Addresses: []resolver.Address{{Addr: g2.Addr}}},
		}})
		conn, err := grpc.NewClient("m:///greeter", grpc.WithResolvers(r),
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"grpckit_consistent_hash":{}}]}`))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		start := time.Now()
		_, err = greeterv1.NewGreeterClient(conn).SayHello(ctx, &greeterv1.SayHelloRequest{Name: "a"})
		cancel()
		conn.Close()
		if err != nil {
			t.Errorf("channel %d: first call failed after %v: %v", i, time.Since(start), err)
		}
	}
}
