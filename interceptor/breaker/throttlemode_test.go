package breaker

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// TestAdaptiveThrottlingMode: a Group built with WithAdaptiveThrottling
// throttles through a Throttle (a backend failing every call ends up
// refused locally with the throttling message), and options that configure
// the state machine are refused beside it, naming them.
func TestAdaptiveThrottlingMode(t *testing.T) {
	g, err := New(WithAdaptiveThrottling(Throttling{MinRequests: 1}), WithKey(ByMethod), WithMaxKeys(5))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if g.throttle == nil {
		t.Fatal("Group built with WithAdaptiveThrottling has no Throttle")
	}
	fail := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
		for _, o := range opts {
			if p, ok := o.(grpc.PeerCallOption); ok {
				*p.PeerAddr = peer.Peer{Addr: backendAddr}
			}
		}
		return status.Error(codes.Unavailable, "down")
	}
	unary := g.UnaryClientInterceptor()
	refused := false
	for i := 0; i < 200 && !refused; i++ {
		err := unary(context.Background(), "/s/M", nil, nil, nil, fail)
		refused = strings.Contains(status.Convert(err).Message(), "adaptive throttling")
	}
	if !refused {
		t.Fatal("200 failing calls through a throttling Group: none refused by throttling")
	}
	for _, opt := range []struct {
		name string
		o    Option
	}{
		{"WithSpread", WithSpread(0.5, time.Second)},
		{"WithReadyToTrip", WithReadyToTrip(func(Counts) bool { return true })},
		{"WithFailureRatio", WithFailureRatio(0.5, 10)},
		{"WithConsecutiveFailures", WithConsecutiveFailures(3)},
		{"WithMaxRequests", WithMaxRequests(2)},
		{"WithInterval", WithInterval(time.Second)},
		{"WithRollingWindow", WithRollingWindow(time.Second, time.Millisecond)},
		{"WithOpenTimeout", WithOpenTimeout(time.Second)},
		{"WithIdleTimeout", WithIdleTimeout(time.Second)},
		{"WithOnStateChange", WithOnStateChange(func(string, State, State) {})},
	} {
		_, err := New(opt.o, WithAdaptiveThrottling(Throttling{}))
		if err == nil || !strings.HasPrefix(err.Error(), "breaker: ") || !strings.Contains(err.Error(), opt.name) {
			t.Errorf("New(%s, WithAdaptiveThrottling): error %v, want one naming %s", opt.name, err, opt.name)
		}
	}
	if _, err := New(WithAdaptiveThrottling(Throttling{K: 0.5})); err == nil || !strings.Contains(err.Error(), "K 0.5") {
		t.Errorf("New(WithAdaptiveThrottling(K: 0.5)): error %v, want one naming K", err)
	}
	if _, err := NewThrottle(Throttling{}, WithAdaptiveThrottling(Throttling{})); err == nil {
		t.Error("NewThrottle(WithAdaptiveThrottling): no error")
	}
}
