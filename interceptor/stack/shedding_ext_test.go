package stack_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/interceptor/shedding"
	"github.com/grpckit/grpckit/interceptor/stack"
)

// TestWithShedding checks that the limiter WithShedding gives sees the
// server's unary calls and streams while they run, inside recovery.
func TestWithShedding(t *testing.T) {
	l := shedding.New()
	b := serve(t, stack.WithShedding(l), stack.WithoutTracing())
	c := dial(t, b.Addr, nil)
	b.SetDelay(time.Hour) // the calls wait for their context
	for _, r := range rpcs {
		t.Run(r.kind, func(t *testing.T) {
			ctx, cancel := context.WithCancel(timeout(t))
			done := make(chan error, 1)
			go func() { done <- r.call(ctx, c) }()
			pollUntil(t, func() bool { return l.Stats().InFlight == 1 })
			cancel()
			if err := <-done; status.Code(err) != codes.Canceled {
				t.Fatalf("%s: %v, want Canceled", r.kind, err)
			}
			pollUntil(t, func() bool { return l.Stats().InFlight == 0 })
		})
	}
	// Health checks go through the stack but never count.
	if _, err := healthpb.NewHealthClient(sheddingConn(t, b.Addr)).Check(timeout(t), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("health check: %v", err)
	}
}

func TestSheddingConstructionErrors(t *testing.T) {
	l := shedding.New()
	for _, tc := range []struct {
		name string
		opts []stack.ServerOption
		want string
	}{
		{"nil", []stack.ServerOption{stack.WithShedding(nil)}, "stack: WithShedding: nil Limiter"},
		{"twice", []stack.ServerOption{stack.WithShedding(l), stack.WithShedding(l)}, "stack: WithShedding given 2 times; give one Limiter"},
		{"with and without", []stack.ServerOption{stack.WithoutShedding(), stack.WithShedding(l)}, "stack: WithShedding and WithoutShedding both given"},
	} {
		sopts, err := stack.Server(tc.opts...)
		if err == nil || sopts != nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %d options, error %v; want none and %q", tc.name, len(sopts), err, tc.want)
		}
	}
	if _, err := stack.Server(stack.WithoutShedding(), stack.WithoutTracing()); err != nil {
		t.Errorf("WithoutShedding: %v", err)
	}
}

// pollUntil polls cond until it holds or the test's deadline passes.
func pollUntil(t *testing.T, cond func() bool) {
	t.Helper()
	ctx := timeout(t)
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("condition not met before the deadline")
		case <-time.After(time.Millisecond):
		}
	}
}

// sheddingConn is a plain connection to addr, closed at the test's end.
func sheddingConn(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}
