package breaker

import "testing"

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
