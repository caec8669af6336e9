package consul_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	"github.com/grpckit/grpckit/registrytest"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/consul"
)

// TestResolverRequestTimeout: WithRequestTimeout, shared with the registrar,
// bounds the resolver's queries too: with the agent black-holed, a query gives
// up after the timeout and the channel's RPCs fail with the resolver's error
// (Unavailable) well before their own deadline, as they would with etcd.
func TestResolverRequestTimeout(t *testing.T) {
	t.Parallel()
	proxy := registrytest.StartProxy(t, agent.Addr())
	proxy.Blackhole()
	const timeout = 300 * time.Millisecond
	b := consul.NewBuilder(consul.WithRequestTimeout(timeout),
		consul.WithBackoff(kitresolver.Backoff{Base: 50 * time.Millisecond, Max: 100 * time.Millisecond, Multiplier: 2}))
	c, _ := dial(t, "consul://"+proxy.Addr()+"/greeter-reqtimeout", b)
	// The default request timeout (5 s) would outlast this deadline.
	ctx := timeoutCtx(t, 4*time.Second)
	_, err := c.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "t"})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("RPC through a black-holed agent with a %v request timeout: %v, want Unavailable from the timed-out query", timeout, err)
	}
}
