package breaker

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// headerStream is a stream whose backend sends its header at once.
type headerStream struct{ grpc.ClientStream }

func (headerStream) Header() (metadata.MD, error) { return metadata.Pairs("k", "v"), nil }

// TestCallbackReentryFromStreamProbe: a state change delivered on a stream
// probe's header goroutine runs a callback that reads the breaker and
// makes a call through it; nothing deadlocks (synctest fails if a
// goroutine stays blocked).
func TestCallbackReentryFromStreamProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g *Group
		var nested atomic.Int64
		g = mustGroup(t, WithFailureRatio(0.6, 3), WithMaxRequests(1), WithOnStateChange(func(key string, _, to State) {
			if to != StateClosed {
				return
			}
			_ = g.State(key)
			_ = g.Counts(key)
			_ = g.unary(context.Background(), method, nil, nil, nil, invoker(&nested, nil))
		}))
		tripAndWait(t, g)
		streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
			return headerStream{}, nil
		}
		if _, err := g.stream(context.Background(), &grpc.StreamDesc{ServerStreams: true}, nil, method, streamer); err != nil {
			t.Fatalf("probe stream: %v", err)
		}
		synctest.Wait()
		if got := g.State(method); got != StateClosed {
			t.Fatalf("state %v after the probe's header, want closed", got)
		}
		if nested.Load() != 1 {
			t.Errorf("callback's nested call reached the backend %d times, want 1", nested.Load())
		}
	})
}
