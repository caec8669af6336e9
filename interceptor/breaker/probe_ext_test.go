package breaker_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/interceptor/breaker"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
)

// tripToHalfOpen opens the breaker of SayHello and SayHelloStream (keyed
// by target) with one failure and waits until it is half-open.
func tripToHalfOpen(ctx context.Context, t *testing.T, g *breaker.Group, client greeterv1.GreeterClient, key string) {
	t.Helper()
	if _, err := client.SayHello(ctx, &greeterv1.SayHelloRequest{Name: codeName(codes.Unavailable)}); status.Code(err) != codes.Unavailable {
		t.Fatalf("failing call: %v", err)
	}
	if got := g.State(key); got != breaker.StateOpen {
		t.Fatalf("state %v after a failure, want open", got)
	}
	waitFor(ctx, t, "half-open", func() bool { return g.State(key) == breaker.StateHalfOpen })
}

func probeGroup(t *testing.T) *breaker.Group {
	return newGroup(t, breaker.WithKey(breaker.ByTarget), breaker.WithConsecutiveFailures(1),
		breaker.WithMaxRequests(1), breaker.WithOpenTimeout(50*time.Millisecond))
}

// TestStreamProbeDecidedAtFirstMessage: a long-lived stream admitted as the
// only half-open probe is decided by its first message, so the breaker
// closes and admits calls while the stream goes on; the stream's failure
// later counts, and opens the breaker again.
func TestStreamProbeDecidedAtFirstMessage(t *testing.T) {
	ctx := testContext(t)
	addr, release := startScripted(t)
	g := probeGroup(t)
	cc, client := dial(t, addr, g)
	key := cc.Target()
	tripToHalfOpen(ctx, t, g, client, key)

	s, err := client.SayHelloStream(ctx, &greeterv1.SayHelloStreamRequest{Name: "hold:" + strconv.Itoa(int(codes.Unavailable)), Count: 1})
	if err != nil {
		t.Fatalf("probe stream: %v", err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatalf("probe's first message: %v", err)
	}
	if got := g.State(key); got != breaker.StateClosed {
		t.Fatalf("state %v after the probe's first message, want closed", got)
	}
	if _, err := client.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "ok"}); err != nil {
		t.Fatalf("call while the probe stream is open: %v", err)
	}
	close(release)
	if _, err := s.Recv(); status.Code(err) != codes.Unavailable {
		t.Fatalf("probe stream's end: %v, want Unavailable", err)
	}
	if got := g.State(key); got != breaker.StateOpen {
		t.Errorf("state %v after the stream failed mid-stream, want open", got)
	}
}

// TestStreamProbeDecidedAtHeader: a probe stream whose backend sends its
// header and nothing else is decided by the header, even if the caller is
// not reading.
func TestStreamProbeDecidedAtHeader(t *testing.T) {
	ctx := testContext(t)
	addr, _ := startScripted(t)
	g := probeGroup(t)
	cc, client := dial(t, addr, g)
	key := cc.Target()
	tripToHalfOpen(ctx, t, g, client, key)

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if _, err := client.SayHelloStream(sctx, &greeterv1.SayHelloStreamRequest{Name: "header"}); err != nil {
		t.Fatalf("probe stream: %v", err)
	}
	waitFor(ctx, t, "the probe's header to close the breaker", func() bool { return g.State(key) == breaker.StateClosed })
	if _, err := client.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "ok"}); err != nil {
		t.Fatalf("call while the probe stream is open: %v", err)
	}
	cancel()
	waitFor(ctx, t, "the cancelled stream to be recorded", func() bool { return g.Counts(key).TotalExclusions == 1 })
	if got := g.State(key); got != breaker.StateClosed {
		t.Errorf("state %v after the probe stream was cancelled, want closed", got)
	}
}
