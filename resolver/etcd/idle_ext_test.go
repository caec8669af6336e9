package etcd_test

import (
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/internal/testutil"
)

var resolverNowOpts = resolver.ResolveNowOptions{}

// waitIdle waits until conn enters IDLE, which closes its resolver.
func waitIdle(t testing.TB, conn *grpc.ClientConn) {
	t.Helper()
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	for s := conn.GetState(); s != connectivity.Idle; s = conn.GetState() {
		if !conn.WaitForStateChange(ctx, s) {
			t.Fatalf("channel still %v at the deadline, want IDLE", s)
		}
	}
}
