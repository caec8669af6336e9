package breaker

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestSpreadFloodOfBackends: b of n backends fail every call, failing fast
// so that each draws three calls to a healthy backend's one. Up to maxPeers
// backends, the default breaker opens exactly when the failing ones are
// more than half of them; with more, the window cannot tell them all apart
// and the trip condition alone decides (>= 50 % of >= 20 calls), so neither
// a majority is hidden nor does the table's choice of whom to forget decide.
func TestSpreadFloodOfBackends(t *testing.T) {
	down := status.Error(codes.Unavailable, "down")
	for _, n := range []int{2, 3, 15, 16, 17, 33, 64, 200} {
		for _, b := range []int{1, n/4 - 1, n/3 + 1, n / 2, n/2 + 1, n} {
			if b < 1 || b > n {
				continue
			}
			g, err := New()
			if err != nil {
				t.Fatal(err)
			}
			as := backends(n)
			unary := g.UnaryClientInterceptor()
			calls, failures := 0, 0
			for range 20 {
				for j := b; j < n; j++ {
					_ = unary(context.Background(), "/s/M", nil, nil, nil, callTo(as[j], nil))
				}
				for j := range b {
					for range 3 {
						_ = unary(context.Background(), "/s/M", nil, nil, nil, callTo(as[j], down))
					}
				}
				calls += n - b + 3*b
				failures += 3 * b
			}
			ratio := 2*failures >= calls && calls >= DefaultMinRequests
			want := StateClosed
			if n <= maxPeers && ratio && 2*b > n || n > maxPeers && ratio {
				want = StateOpen
			}
			if got := g.State("/s/M"); got != want {
				t.Errorf("%d backends, %d failing (%d of %d calls failed): breaker %v, want %v", n, b, failures, calls, got, want)
			}
		}
	}
}
