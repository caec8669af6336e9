package consul

import (
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/resolver"
)

func mustTarget(t *testing.T, s string) resolver.Target {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatalf("url.Parse(%q): %v", s, err)
	}
	return resolver.Target{URL: *u}
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in   string
		want target
	}{
		{"consul:///greeter", target{service: "greeter", healthy: true}},
		{"consul://10.0.0.1:8501/greeter", target{agent: "10.0.0.1:8501", service: "greeter", healthy: true}},
		{"consul://consul.local/greeter", target{agent: "consul.local:8500", service: "greeter", healthy: true}},
		{"consul://[::1]/greeter", target{agent: "[::1]:8500", service: "greeter", healthy: true}},
		{"consul://[fe80::1%25eth0]/greeter", target{agent: "[fe80::1%eth0]:8500", service: "greeter", healthy: true}},
		{"consul:///greeter?tag=a&tag=b&dc=dc1&healthy=false&near=_agent&stale=true",
			target{service: "greeter", tags: []string{"a", "b"}, dc: "dc1", near: "_agent", stale: true}},
		{"consul:///greeter?healthy=1&stale=0", target{service: "greeter", healthy: true}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseTarget(mustTarget(t, tt.in))
			if err != nil {
				t.Fatalf("parseTarget() = %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(target{})); diff != "" {
				t.Fatalf("parseTarget() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseTargetErrors(t *testing.T) {
	const secret = "c4n4ry-5ecret"
	tests := []struct {
		in, wantErr string
	}{
		{"consul:///", "service name is empty"},
		{"consul:///a/b", `service name "a/b" contains '/'`},
		{"consul:///greeter?token=" + secret, "CONSUL_HTTP_TOKEN or CONSUL_HTTP_TOKEN_FILE, or use consul.WithToken"},
		{"consul:///greeter?acl_token=" + secret, "must not carry a token"},
		{"consul:///greeter?TOKEN=" + secret, "must not carry a token"},
		{"consul://user:" + secret + "@agent/greeter", "must not carry credentials"},
		{"consul:///greeter?colour=red", `unknown target parameter "colour" (known: dc, healthy, near, stale, tag)`},
		{"consul:///greeter?healthy=maybe", `"healthy" = "maybe" is not a boolean`},
		{"consul:///greeter?stale=", `"stale" = "" is not a boolean`},
		{"consul:///greeter?dc=a&dc=b", `"dc" given 2 times`},
		{"consul:///greeter?dc=", `"dc" is empty`},
		{"consul:///greeter?tag=", `"tag" is empty`},
		{"consul:///greeter?x=%zz" + secret, "query is malformed"},
		{"consul://agent:0/greeter", "target agent"},
		{"consul://agent:8500:8501/greeter", `target agent "agent:8500:8501": want host, host:port`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := parseTarget(mustTarget(t, tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("parseTarget() = %v, want error containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("parseTarget() error %q echoes the secret", err)
			}
			if !strings.HasPrefix(err.Error(), "consul: ") {
				t.Fatalf("parseTarget() error %q lacks the package prefix", err)
			}
		})
	}
}
