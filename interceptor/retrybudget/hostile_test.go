package retrybudget

import (
	"testing"
)

// TestNilOption: a nil option is an error naming its position, not a panic.
func TestNilOption(t *testing.T) {
	for _, tc := range []struct {
		opts []Option
		want string
	}{
		{[]Option{nil}, "retrybudget: nil option at 0"},
		{[]Option{WithRatio(0.5), nil, WithMinPerSecond(1), nil}, "retrybudget: nil option at 1\nretrybudget: nil option at 3"},
	} {
		b, err := New(tc.opts...)
		if err == nil || err.Error() != tc.want || b != nil {
			t.Errorf("New(%d options) = %v, %v; want the error %q", len(tc.opts), b, err, tc.want)
		}
	}
}
