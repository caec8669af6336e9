package main

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/grpckit/grpckit/examples/internal/greeterapp"
)

// TestAboutFits checks that every phase has an explanation and that its
// lines fit the live view, which redraws by counting lines and would be
// thrown off by a line the terminal wraps.
func TestAboutFits(t *testing.T) {
	d := &demo{cfg: defaultConfig()}
	for _, phase := range append(greeterapp.Balancers, "breaker", "kill", "overload") {
		about := d.about(phase)
		if about == "" {
			t.Errorf("phase %s has no explanation", phase)
		}
		for _, line := range strings.Split(about, "\n") {
			if n := utf8.RuneCountInString(line); n >= 90 {
				t.Errorf("phase %s: a line of %d columns, want under 90: %q", phase, n, line)
			}
		}
	}
}
