package breaker_test

import (
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/grpckit/grpckit/interceptor/breaker"
	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestSpreadTellsBackendsApart checks that the spread rule learns which
// backend answered each call, for every RPC kind: behind round robin over
// two backends, one failing every call, the failures (about half of the
// calls, over the 30 % this breaker trips at) come from one backend of two,
// so the rule keeps the breaker closed. Were the calls not told apart, they
// would look like one backend failing and open it.
func TestSpreadTellsBackendsApart(t *testing.T) {
	const calls = 200
	for _, k := range kinds {
		t.Run(k.method, func(t *testing.T) {
			ctx := testContext(t)
			bad, good := greeter.Start(t, kitresolver.Instance{}), greeter.Start(t, kitresolver.Instance{})
			r := manual.NewBuilderWithScheme("spread")
			r.InitialState(resolver.State{Endpoints: []resolver.Endpoint{
				{Addresses: []resolver.Address{{Addr: bad.Addr}}},
				{Addresses: []resolver.Address{{Addr: good.Addr}}},
			}})
			g := newGroup(t, breaker.WithFailureRatio(0.3, 20), breaker.WithSpread(0.5, 0))
			cc, err := grpc.NewClient(r.Scheme()+":///greeter", grpc.WithResolvers(r),
				grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`),
				grpc.WithChainUnaryInterceptor(g.UnaryClientInterceptor()),
				grpc.WithChainStreamInterceptor(g.StreamClientInterceptor()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cc.Close() })
			client := greeterv1.NewGreeterClient(cc)
			// Both connected first: a backend alone in the window is
			// the lone-backend case, which this test is not about.
			for bad.Calls() == 0 || good.Calls() == 0 {
				if err := k.call(ctx, client); err != nil {
					t.Fatalf("call to healthy backends: %v", err)
				}
			}
			bad.SetFailure(codes.Unavailable)
			for i := 0; i < calls || bad.Calls() < calls/4; i++ {
				_ = k.call(ctx, client)
				if s := g.State(service + k.method); s != breaker.StateClosed {
					t.Fatalf("call %d: breaker %v with one bad backend of two (bad got %d calls, good %d); counts %+v",
						i, s, bad.Calls(), good.Calls(), g.Counts(service+k.method))
				}
				if ctx.Err() != nil {
					t.Fatalf("the bad backend got %d calls of %d: %v", bad.Calls(), i, ctx.Err())
				}
			}
		})
	}
}
