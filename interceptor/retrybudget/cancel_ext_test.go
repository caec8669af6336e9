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
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
)

// TestCancelAtEveryStep cancels calls to a backend that fails every
// attempt at offsets spread over the attempts and backoffs. Whenever the
// cancellation lands, the call returns Canceled or the last attempt's
// Unavailable, at most MaxAttempts reach the server, and the budget is
// charged for the retries sent plus at most one (cancelled during its
// backoff).
func TestCancelAtEveryStep(t *testing.T) {
	var served atomic.Int64
	ctx, srv, _, _ := setup(t, []grpc.ServerOption{attemptCounter(&served, func(int64) bool { return true }, "")})
	b, err := retrybudget.New(retrybudget.WithPolicy(fastPolicy),
		retrybudget.WithRatio(0), retrybudget.WithMinPerSecond(1e6), retrybudget.WithWindow(time.Hour, 1))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// The attempts are counted as they are sent: the server may count an
	// attempt its caller gave up on after the call returned.
	var n atomic.Int64
	count := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		n.Add(1)
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	cc, err := grpc.NewClient(srv.Addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDisableRetry(),
		grpc.WithChainUnaryInterceptor(b.UnaryClientInterceptor(), count),
	)
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	defer cc.Close()
	client := greeterv1.NewGreeterClient(cc)
	for i := range 40 {
		before, avail := n.Load(), b.Available()
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(time.Duration(i)*250*time.Microsecond, cancel)
		_, err := client.SayHello(cctx, &greeterv1.SayHelloRequest{})
		cancel()
		sent := n.Load() - before
		if c := status.Code(err); c != codes.Canceled && c != codes.Unavailable {
			t.Fatalf("offset %d: call returned %v", i, err)
		}
		spent := int64(avail - b.Available())
		if sent < 1 || sent > 5 || spent > sent || spent < sent-1 {
			t.Errorf("offset %d: %d attempts sent, %d retries charged", i, sent, spent)
		}
	}
}
