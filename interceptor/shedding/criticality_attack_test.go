package shedding

import (
	"context"
	"math"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
)

// TestParseCriticalityHostile: header values a hostile or careless client
// may send read as what they name or as Default, never as something they do
// not spell, and reading them allocates nothing whatever their size or case.
func TestParseCriticalityHostile(t *testing.T) {
	huge := strings.Repeat("A", 1<<20)
	for _, tc := range []struct {
		in   string
		want Criticality
	}{
		{"", Default},
		{"critical", Critical},
		{"CRITICAL", Critical},
		{"\tSheddable\r\n", Sheddable},
		{"ſheddable", Default}, // U+017F folds to 's' in Unicode, not in the header's ASCII
		{"crit\u0130cal", Default},
		{"critical\x00", Default},
		{"critical,critical", Default},
		{"sheddable critical", Default},
		{"-1", Default},
		{"1", Default},
		{huge, Default},
		{huge + "critical", Default},
		{strings.Repeat(" ", 1<<20) + "critical", Critical},
	} {
		if got := parseCriticality(tc.in); got != tc.want {
			t.Errorf("parseCriticality(%.20q): %v, want %v", tc.in, got, tc.want)
		}
	}
	for _, s := range []string{"Critical", "SHEDDABLE", huge} {
		if n := testing.AllocsPerRun(100, func() { sinkCriticality = parseCriticality(s) }); n != 0 {
			t.Errorf("parseCriticality(%.20q): %v allocations, want 0", s, n)
		}
	}
}

// TestCriticalityContextValue: the context value is clamped to the known
// criticalities, whatever an interceptor stores.
func TestCriticalityContextValue(t *testing.T) {
	for c, want := range map[Criticality]Criticality{
		math.MinInt8: Sheddable, -2: Sheddable, -1: Sheddable, 0: Default, 1: Critical, 2: Critical, math.MaxInt8: Critical,
	} {
		md := metadata.Pairs(CriticalityHeader, "critical")
		ctx := WithCriticality(metadata.NewIncomingContext(context.Background(), md), c)
		if got := CriticalityFrom(ctx); got != want {
			t.Errorf("WithCriticality(%d): %v, want %v", c, got, want)
		}
	}
	// A different type under another key is not taken for it.
	type other struct{}
	ctx := context.WithValue(context.Background(), other{}, Critical)
	if got := CriticalityFrom(ctx); got != Default {
		t.Errorf("a foreign key: %v, want Default", got)
	}
}

// TestNeverShedExact: only the methods of the health and reflection
// services are exempt, not names that look like them.
func TestNeverShedExact(t *testing.T) {
	for m, want := range map[string]bool{
		"/grpc.health.v1.Health/Check":                                   true,
		"/grpc.health.v1.Health/Watch":                                   true,
		"/grpc.health.v1.Health/List":                                    true,
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      true,
		"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": true,
		"/grpc.health.v1.HealthX/Check":                                  false,
		"/grpc.health.v1.Health":                                         false,
		"/grpc.health.v1.Health/":                                        false,
		"/grpc.health.v1.Health/Check/x":                                 false,
		"/grpc.health.v1.Health//Check":                                  false,
		"/grpc.health.v1.Health/../greeter.v1.Greeter/SayHello":          false,
		"grpc.health.v1.Health/Check":                                    false,
		"/GRPC.HEALTH.V1.HEALTH/CHECK":                                   false,
		"/x/grpc.health.v1.Health/Check":                                 false,
		"/grpc.reflection.v1.ServerReflectionX/ServerReflectionInfo":     false,
		"/grpc.reflection.v1.ServerReflection/a/b":                       false,
		"": false,
	} {
		if got := neverShed(m); got != want {
			t.Errorf("neverShed(%q) = %v, want %v", m, got, want)
		}
	}
}

var sinkCriticality Criticality
