package consistenthash_test

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/balancer/consistenthash"
	"github.com/grpckit/grpckit/internal/greeter"
	"github.com/grpckit/grpckit/internal/testutil"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// startGreeters starts n greeters and a client that reaches them through
// resolver/manual with the policy configured by cfg.
func startGreeters(t *testing.T, n int, cfg string, opts ...grpc.DialOption) ([]*greeter.Running, greeterv1.GreeterClient) {
	t.Helper()
	servers := make([]*greeter.Running, n)
	insts := make([]kitresolver.Instance, n)
	for i := range servers {
		servers[i] = greeter.Start(t, kitresolver.Instance{Service: "greeter", ID: fmt.Sprintf("g%d", i)})
		insts[i] = servers[i].Instance()
	}
	r := manual.NewBuilderWithScheme("ch")
	r.InitialState(resolver.State{Endpoints: kitresolver.Endpoints(insts)})
	sc := fmt.Sprintf(`{"loadBalancingConfig":[{%q:%s}]}`, consistenthash.Name, cfg)
	conn, err := grpc.NewClient("ch:///greeter", append(opts, grpc.WithResolvers(r),
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDefaultServiceConfig(sc))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return servers, greeterv1.NewGreeterClient(conn)
}

func hello(ctx context.Context, t *testing.T, c greeterv1.GreeterClient) string {
	t.Helper()
	resp, err := c.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "ch"})
	if err != nil {
		t.Fatalf("SayHello: %v", err)
	}
	return resp.GetGreeting().GetInstanceId()
}

// waitAllServing polls with fresh keys until every one of n instances has
// answered, so that no endpoint is still connecting when affinity is checked.
func waitAllServing(ctx context.Context, t *testing.T, c greeterv1.GreeterClient, n int) {
	t.Helper()
	seen := map[string]bool{}
	for i := 0; len(seen) < n; i++ {
		if ctx.Err() != nil {
			t.Fatalf("only %d of %d instances answered before the deadline", len(seen), n)
		}
		seen[hello(consistenthash.WithKey(ctx, fmt.Sprintf("warm-%d", i)), t, c)] = true
	}
}

func TestAffinityEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	_, c := startGreeters(t, 5, `{"hashHeader":"x-user-id","missingKey":"fail"}`,
		grpc.WithUnaryInterceptor(consistenthash.UnaryClientInterceptor()), grpc.WithStreamInterceptor(consistenthash.StreamClientInterceptor()))
	waitAllServing(ctx, t, c, 5)
	owners := map[string]bool{}
	for k := range 30 {
		key := fmt.Sprintf("user-%d", k)
		want := hello(consistenthash.WithKey(ctx, key), t, c)
		owners[want] = true
		for range 3 {
			if got := hello(consistenthash.WithKey(ctx, key), t, c); got != want {
				t.Fatalf("key %q via WithKey went to %s, then %s", key, want, got)
			}
			if got := hello(metadata.AppendToOutgoingContext(ctx, "x-user-id", key), t, c); got != want {
				t.Fatalf("key %q via the header went to %s, via WithKey to %s", key, got, want)
			}
		}
	}
	if len(owners) < 3 {
		t.Errorf("30 keys went to %d instances, want them spread over at least 3 of 5", len(owners))
	}
	_, err := c.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "no key"})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("SayHello without a key, missingKey fail: %v, want InvalidArgument", err)
	}
	stream, err := c.SayHelloStream(ctx, &greeterv1.SayHelloStreamRequest{Name: "no key"})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("SayHelloStream without a key, missingKey fail: %v, want InvalidArgument", err)
	}
}

func TestMissingKeyRandomEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	_, c := startGreeters(t, 3, `{"hashHeader":"x-user-id"}`)
	seen := map[string]bool{}
	for len(seen) < 3 {
		if ctx.Err() != nil {
			t.Fatalf("requests without a key reached %d of 3 instances before the deadline", len(seen))
		}
		seen[hello(ctx, t, c)] = true
	}
}

// TestBackendDownEndToEnd stops one backend: its keys fail over, the others'
// keys stay where they were.
func TestBackendDownEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	servers, c := startGreeters(t, 4, `{"loadFactor":1.25}`)
	waitAllServing(ctx, t, c, 4)
	owners := map[string]string{}
	for k := range 40 {
		key := fmt.Sprintf("user-%d", k)
		owners[key] = hello(consistenthash.WithKey(ctx, key), t, c)
	}
	down := servers[0].Instance().ID
	servers[0].Stop()
	for key, want := range owners {
		kctx := consistenthash.WithKey(ctx, key)
		for {
			resp, err := c.SayHello(kctx, &greeterv1.SayHelloRequest{Name: "ch"}, grpc.WaitForReady(true))
			if err != nil {
				// A key of the stopped backend may still be sent on its dying
				// connection before the channel sees it close: that call fails
				// with Unavailable and the next one goes elsewhere. Keys of the
				// other backends must never fail.
				if want == down && status.Code(err) == codes.Unavailable && ctx.Err() == nil {
					continue
				}
				t.Fatalf("key %q (owner %s) after %s stopped: %v", key, want, down, err)
			}
			got := resp.GetGreeting().GetInstanceId()
			if want != down && got != want {
				t.Fatalf("key %q moved from %s to %s when %s stopped", key, want, got, down)
			}
			if got != down {
				break
			}
		}
	}
}
