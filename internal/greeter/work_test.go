package greeter

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestSetWork: a call does the work set and answers; a call whose caller
// has gone stops working and says why; SetWork(0) turns the work off.
func TestSetWork(t *testing.T) {
	s := New(kitresolver.Instance{ID: "w"})
	s.SetWork(time.Millisecond)
	if s.work.Load() <= 0 {
		t.Fatalf("SetWork(1ms) set %d iterations, want some", s.work.Load())
	}
	if _, err := s.SayHello(context.Background(), &greeterv1.SayHelloRequest{Name: "a"}); err != nil {
		t.Fatalf("SayHello with work: %v", err)
	}
	if s.sink.Load() == 0 {
		t.Fatal("the work left no result")
	}
	s.work.Store(1 << 40) // hours of work: only the cancellation can end it
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "a"}); status.Code(err) != codes.Canceled {
		t.Fatalf("SayHello with a cancelled context = %v, want Canceled", err)
	}
	s.SetWork(0)
	if s.work.Load() != 0 {
		t.Fatalf("SetWork(0) left %d iterations", s.work.Load())
	}
}
