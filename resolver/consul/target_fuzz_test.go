package consul

import (
	"net"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/grpc/resolver"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// FuzzParseTarget: whatever the target, parseTarget does not panic; what it
// accepts names a service that validates and, if any, an agent that is a
// host:port whose host is an IP address or a name without ':' or '%' (so
// the client dials the host the allow-list check saw); a target with a
// token-like parameter is refused; and no error quotes the value of one.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{
		"consul:///greeter", "consul://10.0.0.1:8501/greeter?tag=a&tag=b&dc=dc1",
		"consul://[::1]/greeter?near=_agent", "consul://a:1:2/s", "consul://[fe80::1%25eth0]:8500/s",
		"consul:///greeter?token=c4n4ry", "consul://u:p@h/s", "consul:s?healthy=0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		tgt, err := parseTarget(resolver.Target{URL: *u})
		hasToken := false
		q, _ := url.ParseQuery(u.RawQuery)
		for k, vs := range q {
			if strings.Contains(strings.ToLower(k), "token") {
				hasToken = true
				for _, v := range vs {
					if len(v) >= 4 && err != nil && strings.Contains(err.Error(), v) {
						t.Fatalf("parseTarget(%q) error %q quotes the token", raw, err)
					}
				}
			}
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "consul: ") {
				t.Fatalf("parseTarget(%q) error %q lacks the package prefix", raw, err)
			}
			return
		}
		if hasToken {
			t.Fatalf("parseTarget(%q) accepted a token parameter", raw)
		}
		if err := kitresolver.ValidateServiceName(tgt.service); err != nil {
			t.Fatalf("parseTarget(%q) accepted service %q: %v", raw, tgt.service, err)
		}
		if tgt.agent == "" {
			return
		}
		host, _, err := net.SplitHostPort(tgt.agent)
		if err != nil {
			t.Fatalf("parseTarget(%q) agent %q: %v", raw, tgt.agent, err)
		}
		if _, err := netip.ParseAddr(host); err != nil && strings.ContainsAny(host, ":%") {
			t.Fatalf("parseTarget(%q) agent %q: host %q is neither an IP address nor a name", raw, tgt.agent, host)
		}
	})
}
