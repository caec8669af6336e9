package retrybudget_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/interceptor/retrybudget"
	"github.com/grpckit/grpckit/internal/greeter"
	"github.com/grpckit/grpckit/internal/testutil"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestServiceConfigPolicy: with WithServiceConfigPolicy, a call is retried
// as its method's retryPolicy in the channel's service config says (codes,
// attempts), within the budget, and a method the service config gives no
// retryPolicy (a non-idempotent one, say) is never retried, whatever
// Policy says. Without the option, Policy applies to every method.
func TestServiceConfigPolicy(t *testing.T) {
	const retryRE = `{"methodConfig": [{"name": [{"service": "greeter.v1.Greeter", "method": "SayHello"}],
		"retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.001s", "maxBackoff": "0.002s",
		"backoffMultiplier": 2, "retryableStatusCodes": ["RESOURCE_EXHAUSTED"]}}]}`
	const noRetry = `{"methodConfig": [{"name": [{"service": "greeter.v1.Greeter"}], "timeout": "30s"}]}`
	for _, tc := range []struct {
		name     string
		sc       string
		option   bool
		code     codes.Code
		attempts int64
	}{
		{"service config retries its code", retryRE, true, codes.ResourceExhausted, 3},
		{"service config does not retry Policy's code", retryRE, true, codes.Unavailable, 1},
		{"no retryPolicy, no retries", noRetry, true, codes.Unavailable, 1},
		{"no service config, no retries", "", true, codes.Unavailable, 1},
		{"without the option, Policy", noRetry, false, codes.Unavailable, 5},
		{"without the option, Policy's codes only", retryRE, false, codes.ResourceExhausted, 1},
	} {
		var n atomic.Int64
		srv := greeter.Start(t, kitresolver.Instance{}, grpc.ChainUnaryInterceptor(
			func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
				n.Add(1)
				return nil, status.Error(tc.code, "failed attempt")
			}))
		opts := []retrybudget.Option{retrybudget.WithPolicy(fastPolicy), retrybudget.WithWindow(time.Hour, 1)}
		if tc.option {
			opts = append(opts, retrybudget.WithServiceConfigPolicy())
		}
		b, err := retrybudget.New(opts...)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		dial := []grpc.DialOption{
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithChainUnaryInterceptor(b.UnaryClientInterceptor()),
		}
		if tc.sc != "" {
			dial = append(dial, grpc.WithDefaultServiceConfig(tc.sc))
		}
		cc, err := grpc.NewClient(srv.Addr, dial...)
		if err != nil {
			t.Fatalf("grpc.NewClient: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
		_, err = greeterv1.NewGreeterClient(cc).SayHello(ctx, &greeterv1.SayHelloRequest{})
		cancel()
		cc.Close()
		if status.Code(err) != tc.code || n.Load() != tc.attempts {
			t.Errorf("%s: %d attempts, returned %v; want %d, %v", tc.name, n.Load(), err, tc.attempts, tc.code)
		}
	}
}
