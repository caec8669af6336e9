package breaker

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// headerlessStream is a probe stream whose backend never sends a header:
// Header and RecvMsg block until the caller's context ends.
type headerlessStream struct {
	grpc.ClientStream
	ctx context.Context
}

func (s headerlessStream) Header() (metadata.MD, error) { <-s.ctx.Done(); return nil, s.ctx.Err() }
func (s headerlessStream) RecvMsg(any) error            { <-s.ctx.Done(); return s.ctx.Err() }
func (s headerlessStream) Context() context.Context     { return s.ctx }

// TestHalfOpenProbeBoundStress: rounds of many unary calls and headerless
// streams at a half-open breaker, all cancelled before any answer. In each
// round exactly MaxRequests reach the backend; cancelling them frees every
// slot (the next round is admitted again) and ends every probe goroutine
// (synctest fails on a goroutine left blocked).
func TestHalfOpenProbeBoundStress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const probes = 3
		g := mustGroup(t, WithFailureRatio(0.6, 3), WithMaxRequests(probes))
		tripAndWait(t, g)
		var live, reached atomic.Int64
		unary := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
			reached.Add(1)
			live.Add(1)
			defer live.Add(-1)
			<-ctx.Done()
			return context.Canceled
		}
		streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
			reached.Add(1)
			return headerlessStream{ctx: ctx}, nil
		}
		desc := &grpc.StreamDesc{ServerStreams: true}
		for round := range 10 {
			reached.Store(0)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for i := range 30 {
				wg.Go(func() {
					if (i+round)%2 == 0 {
						_ = g.unary(ctx, method, nil, nil, nil, unary)
						return
					}
					if s, err := g.stream(ctx, desc, nil, method, streamer); err == nil && i%4 == 1 {
						_ = s.RecvMsg(nil)
					}
				})
			}
			synctest.Wait()
			if got := reached.Load(); got != probes {
				t.Fatalf("round %d: %d calls reached a half-open backend, want %d", round, got, probes)
			}
			cancel()
			wg.Wait()
			synctest.Wait()
			if got := g.State(method); got != StateHalfOpen {
				t.Fatalf("round %d: state %v after cancelled probes, want half-open", round, got)
			}
		}
	})
}
