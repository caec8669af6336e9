package retrybudget_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/interceptor/retrybudget"
)

// TestStreamsNotRetried: a stream of any kind failing with a retryable code
// reaches the server once, returns that code, and spends and deposits
// nothing: the interceptor never replays part of a stream.
func TestStreamsNotRetried(t *testing.T) {
	var n atomic.Int64
	fail := grpc.ChainStreamInterceptor(func(any, grpc.ServerStream, *grpc.StreamServerInfo, grpc.StreamHandler) error {
		n.Add(1)
		return status.Error(codes.Unavailable, "failed stream")
	})
	ctx, _, b, client := setup(t, []grpc.ServerOption{fail},
		retrybudget.WithRatio(1), retrybudget.WithMinPerSecond(0), retrybudget.WithWindow(time.Hour, 1))
	for i, call := range calls[1:] {
		before := n.Load()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := call(cctx, client)
		cancel()
		if status.Code(err) != codes.Unavailable || n.Load()-before != 1 {
			t.Errorf("stream kind %d: %d attempts, returned %v; want 1, Unavailable", i+1, n.Load()-before, err)
		}
		if b.Available() != 0 {
			t.Errorf("stream kind %d: %d retries available after failures only, want 0", i+1, b.Available())
		}
	}
}
