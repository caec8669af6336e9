//go:build !race

// sync.Pool drops items at random under the race detector.

package breaker

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
)

// TestUnaryAllocationFree: a call through a closed breaker, and through a
// Group in adaptive-throttling mode, allocates nothing.
func TestUnaryAllocationFree(t *testing.T) {
	invoker := func(_ context.Context, _ string, _, _ any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
		for _, o := range opts {
			if p, ok := o.(grpc.PeerCallOption); ok {
				*p.PeerAddr = peer.Peer{Addr: backendAddr}
			}
		}
		return nil
	}
	for name, opts := range map[string][]Option{
		"breaker":  nil,
		"throttle": {WithAdaptiveThrottling(Throttling{})},
	} {
		g, err := New(opts...)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		unary := g.UnaryClientInterceptor()
		ctx := context.Background()
		call := func() { _ = unary(ctx, "/s/M", nil, nil, nil, invoker) }
		call()
		if n := testing.AllocsPerRun(1000, call); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
}
