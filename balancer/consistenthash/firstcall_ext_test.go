package consistenthash_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/grpckit/grpckit/balancer/consistenthash"
	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestFirstCallOfNewChannels: the first call of each of many new channels
// is answered; it waits while the endpoints connect, not until its deadline.
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

// TestKeyReturnsToOwnerAfterLostConnection: the owner of a key loses its
// connection over and over (the server ends connections after 200 ms); its
// pickfirst child goes IDLE each time, and endpointsharding connects it
// again. Calls with the key must keep returning to the owner rather than
// staying on the fallback for good after the first loss.
func TestKeyReturnsToOwnerAfterLostConnection(t *testing.T) {
	age := 200 * time.Millisecond
	g1 := greeter.Start(t, kitresolver.Instance{ID: "g1", Service: "greeter"},
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionAge: age, MaxConnectionAgeGrace: age}))
	g2 := greeter.Start(t, kitresolver.Instance{ID: "g2", Service: "greeter"})
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
	defer conn.Close()
	c := greeterv1.NewGreeterClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	call := func(key string) string {
		t.Helper()
		resp, err := c.SayHello(consistenthash.WithKey(ctx, key), &greeterv1.SayHelloRequest{Name: "a"})
		if err != nil {
			t.Fatalf("call with key %q: %v", key, err)
		}
		return resp.GetGreeting().GetInstanceId()
	}
	// Both READY (keys reach both), then find a key g1 owns.
	seen := map[string]bool{}
	for i := 0; len(seen) < 2; i++ {
		seen[call(fmt.Sprintf("warm-%d", i))] = true
	}
	key := ""
	for i := 0; key == "" && i < 1000; i++ {
		k := fmt.Sprintf("user-%d", i)
		first := call(k)
		if second := call(k); first == "g1" && second == "g1" {
			key = k
		}
	}
	if key == "" {
		t.Fatal("no key owned by g1 among 1000")
	}
	// Many connection lifetimes later, the key still reaches g1.
	deadline := time.Now().Add(20 * age)
	for time.Now().Before(deadline) {
		call(key)
		time.Sleep(age / 20)
	}
	for call(key) != "g1" {
		if ctx.Err() != nil {
			t.Fatalf("key %q never returned to its owner g1 after g1's connections were lost", key)
		}
		time.Sleep(age / 20)
	}
}
