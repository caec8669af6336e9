package etcd

import (
	"net/url"
	"strings"
	"testing"

	"google.golang.org/grpc/resolver"
)

func parse(t testing.TB, s string) (resolver.Target, bool) {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		return resolver.Target{}, false
	}
	return resolver.Target{URL: *u}, true
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		target  string
		want    string
		wantErr string
	}{
		{"etcd:///greeter", "greeter", ""},
		{"etcd:///greeter.v1-x_y", "greeter.v1-x_y", ""},
		{"etcd:greeter", "greeter", ""},
		{"etcd:///", "", "service name is empty"},
		{"etcd://", "", "service name is empty"},
		{"etcd:///a/b", "", `contains '/'`},
		{"etcd:///greeter/", "", `contains '/'`},
		{"etcd:///gr%20eeter", "", `contains ' '`},
		{"etcd://host:2379/greeter", "", `names host "host:2379"`},
		{"etcd:///greeter?x=1", "", "query or fragment"},
		{"etcd:///greeter#f", "", "query or fragment"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			target, ok := parse(t, tt.target)
			if !ok {
				t.Fatalf("url.Parse(%q) failed", tt.target)
			}
			got, err := parseTarget(target)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "etcd: ") {
					t.Fatalf("parseTarget(%q) = %q, %v; want an etcd: error containing %q", tt.target, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseTarget(%q) = %q, %v; want %q", tt.target, got, err, tt.want)
			}
		})
	}
}

// FuzzParseTarget checks that any target either parses to a valid service
// name that maps to exactly one key prefix, or fails with an error.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"etcd:///greeter", "etcd://h/greeter", "etcd:///a/b", "etcd:///%2F", "etcd:x?y#z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		target, ok := parse(t, s)
		if !ok {
			return
		}
		service, err := parseTarget(target)
		if err != nil {
			return
		}
		if strings.Contains(service, "/") || service == "" {
			t.Fatalf("parseTarget(%q) = %q: would not map to a single service key", s, service)
		}
		key := defaultConfig().serviceKey(service)
		if strings.Count(key, "/") != 3 {
			t.Fatalf("parseTarget(%q) = %q gives key prefix %q", s, service, key)
		}
	})
}

func TestNormalizePrefix(t *testing.T) {
	for in, want := range map[string]string{"": "", "/": "/", "/svc": "/svc/", "/svc/": "/svc/", "svc": "svc/"} {
		if got := normalizePrefix(in); got != want {
			t.Errorf("normalizePrefix(%q) = %q, want %q", in, got, want)
		}
	}
}
