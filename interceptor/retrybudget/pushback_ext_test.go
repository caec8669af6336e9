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
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
)

// TestHostilePushback: a pushback too large for a time.Duration, or one
// that outlasts the caller's deadline, stops the retries at once: no retry
// is sent (a wrapped duration must not become an immediate retry), none is
// withdrawn from the budget, and the call returns before its deadline.
func TestHostilePushback(t *testing.T) {
	for _, pushback := range []string{
		"9223372036854775807", // wraps to a negative duration in nanoseconds
		"9300000000000",       // just past the largest time.Duration in ms
		"60000",               // a minute, past the call's deadline
	} {
		var n atomic.Int64
		ctx, _, b, client := setup(t, []grpc.ServerOption{attemptCounter(&n, func(int64) bool { return true }, pushback)},
			retrybudget.WithWindow(time.Hour, 1))
		avail := b.Available()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := client.SayHello(cctx, &greeterv1.SayHelloRequest{})
		early := cctx.Err() == nil
		cancel()
		if status.Code(err) != codes.Unavailable || !early {
			t.Errorf("pushback %s: call returned %v (before its deadline: %v); want Unavailable, before the deadline", pushback, err, early)
		}
		if n.Load() != 1 || b.Available() != avail {
			t.Errorf("pushback %s: %d attempts, %d retries withdrawn; want 1 and 0", pushback, n.Load(), avail-b.Available())
		}
	}
}
