package ratelimit_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/grpckit/grpckit/interceptor/ratelimit"
)

// TestNilOption: a nil option, as a conditional option list may hold, makes
// the limiter constructors fail naming its position, and is ignored by the
// interceptor constructors, which return no error; none panics.
func TestNilOption(t *testing.T) {
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("a nil option panicked: %v", r)
		}
	}()
	var none ratelimit.LimiterOption
	_, err := ratelimit.NewTokenBucket(rate.Limit(1), 1, ratelimit.WithMaxKeys(10), none)
	if !errors.Is(err, ratelimit.ErrInvalidConfig) || !strings.Contains(err.Error(), "nil LimiterOption at position 1") {
		t.Errorf("NewTokenBucket with a nil option: %v, want ErrInvalidConfig naming position 1", err)
	}
	_, err = ratelimit.NewSlidingWindow(1, time.Second, none)
	if !errors.Is(err, ratelimit.ErrInvalidConfig) || !strings.Contains(err.Error(), "position 0") {
		t.Errorf("NewSlidingWindow with a nil option: %v, want ErrInvalidConfig naming position 0", err)
	}
	tb, err := ratelimit.NewTokenBucket(rate.Limit(1), 1)
	if err != nil {
		t.Fatal(err)
	}
	var noOpt ratelimit.Option
	if ratelimit.UnaryServerInterceptor(tb, noOpt) == nil || ratelimit.StreamServerInterceptor(tb, noOpt) == nil {
		t.Error("an interceptor constructor with a nil option returned nil")
	}
}
