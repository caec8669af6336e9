package shedding

import (
	"context"
	"errors"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
)

// TestStreamsNeverEndingAndCancelled: one Limiter behind two servers.
// Streams that stay open count in flight on both; streams cancelled at
// every step of opening (before the first message, right after it, while
// the limiter sheds) leave nothing counted once they end; a panicking
// handler does not either.
func TestStreamsNeverEndingAndCancelled(t *testing.T) {
	l, clock, probe := newFake()
	a, _ := serve(t, l)
	b, _ := serve(t, l)
	clients := []greeterv1.GreeterClient{a, b}

	// Streams that never end: counted while open.
	ctx, cancel := context.WithCancel(timeout(t))
	for i := range 10 {
		s, err := clients[i%2].SayHelloBidi(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Send(&greeterv1.SayHelloBidiRequest{Name: "a"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil { // the handler runs
			t.Fatal(err)
		}
	}
	waitInFlight(t, l, 10)
	cancel()
	waitInFlight(t, l, 0)

	// Streams cancelled at every step of opening, half of them while the
	// limiter sheds all calls.
	var wg sync.WaitGroup
	for i := range 60 {
		if i == 30 {
			wg.Wait()
			saturate(t, l, clock, probe)
		}
		wg.Go(func() {
			ctx, cancel := context.WithCancel(timeout(t))
			defer cancel()
			s, err := clients[i%2].SayHelloBidi(ctx)
			if i%3 == 0 || err != nil {
				return
			}
			_ = s.Send(&greeterv1.SayHelloBidiRequest{Name: "a"})
			if i%3 == 1 {
				return
			}
			_, err = s.Recv()
			if err != nil && status.Code(err) != codes.ResourceExhausted && !errors.Is(err, context.Canceled) {
				t.Errorf("stream %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	waitInFlight(t, l, 0)
}

// TestPanickingHandlerLeavesNothingInFlight: a handler that panics (a
// recovery interceptor outside catches it) is no longer counted.
func TestPanickingHandlerLeavesNothingInFlight(t *testing.T) {
	l := New()
	unary := UnaryServerInterceptor(l)
	stream := StreamServerInterceptor(l)
	catch := func(f func()) {
		defer func() { _ = recover() }()
		f()
	}
	catch(func() {
		_, _ = unary(context.Background(), nil, benchInfo, func(context.Context, any) (any, error) { panic("boom") })
	})
	catch(func() {
		_ = stream(nil, fakeStream{}, &grpc.StreamServerInfo{FullMethod: "/a.B/C"}, func(any, grpc.ServerStream) error { panic("boom") })
	})
	if n := l.Stats().InFlight; n != 0 {
		t.Fatalf("%d in flight after panicking handlers, want 0", n)
	}
}

type fakeStream struct{ grpc.ServerStream }

func (fakeStream) Context() context.Context { return context.Background() }
