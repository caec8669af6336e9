package breaker

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

// TestNilOption: a nil option given to New or NewThrottle is an error
// naming its position, not a panic; so is one given with
// WithAdaptiveThrottling.
func TestNilOption(t *testing.T) {
	for name, build := range map[string]func() error{
		"New": func() error {
			_, err := New(WithKey(ByMethod), nil)
			return err
		},
		"New throttling": func() error {
			_, err := New(nil, WithAdaptiveThrottling(Throttling{}))
			return err
		},
		"NewThrottle": func() error {
			_, err := NewThrottle(Throttling{}, WithMaxKeys(10), nil)
			return err
		},
	} {
		want := map[string]string{
			"New":            "breaker: nil option at 1",
			"New throttling": "breaker: nil option at 0",
			"NewThrottle":    "breaker: nil option at 1",
		}[name]
		if err := build(); err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %q", name, err, want)
		}
	}
}

// TestNewThrottleRefusesStateMachineOptions: NewThrottle refuses the
// options of a state machine it does not have, naming them, as
// WithAdaptiveThrottling does beside them, instead of ignoring them.
func TestNewThrottleRefusesStateMachineOptions(t *testing.T) {
	_, err := NewThrottle(Throttling{}, WithKey(ByMethod), WithOpenTimeout(time.Second), WithConsecutiveFailures(3))
	const want = "breaker: NewThrottle has no open or closed state: WithOpenTimeout, WithConsecutiveFailures cannot be given to it"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	if _, err := NewThrottle(Throttling{}, WithKey(ByMethod), WithMaxKeys(5), WithFailureCodes(codes.Internal)); err != nil {
		t.Errorf("the options a Throttle honours: %v", err)
	}
}
