package consul

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc/resolver"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestAPIConfigFromEnvironment checks that the standard CONSUL_* environment
// reaches the client, that the authority overrides the address and that
// token options override the environment's token.
func TestAPIConfigFromEnvironment(t *testing.T) {
	t.Setenv("CONSUL_HTTP_ADDR", "10.1.1.1:8501")
	t.Setenv("CONSUL_HTTP_TOKEN", "env-token")
	t.Setenv("CONSUL_HTTP_SSL", "true")
	t.Setenv("CONSUL_CACERT", "/etc/ca.pem")
	t.Setenv("CONSUL_CLIENT_CERT", "/etc/cert.pem")
	t.Setenv("CONSUL_CLIENT_KEY", "/etc/key.pem")
	t.Setenv("CONSUL_TLS_SERVER_NAME", "consul.internal")
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	type view struct{ Address, Scheme, Token, TokenFile, CA, Cert, Key, ServerName string }
	see := func(c *api.Config) view {
		return view{c.Address, c.Scheme, c.Token, c.TokenFile, c.TLSConfig.CAFile, c.TLSConfig.CertFile, c.TLSConfig.KeyFile, c.TLSConfig.Address}
	}
	env := view{"10.1.1.1:8501", "https", "env-token", "", "/etc/ca.pem", "/etc/cert.pem", "/etc/key.pem", "consul.internal"}
	tests := []struct {
		name  string
		opts  []Option
		agent string
		want  func(view) view
	}{
		{"environment", nil, "", func(v view) view { return v }},
		{"authority", nil, "10.2.2.2:8500", func(v view) view { v.Address = "10.2.2.2:8500"; return v }},
		{"WithToken", []Option{WithToken("opt-token")}, "", func(v view) view { v.Token = "opt-token"; return v }},
		{"WithTokenFile", []Option{WithTokenFile(tokenFile)}, "", func(v view) view { v.Token, v.TokenFile = "", tokenFile; return v }},
		{"WithConfig", []Option{WithConfig(&api.Config{Address: "10.3.3.3:1", Token: "cfg"})}, "", func(view) view { return view{Address: "10.3.3.3:1", Token: "cfg"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBuilder(tt.opts...).(*builder)
			got := see(b.apiConfig(target{agent: tt.agent, service: "s"}))
			if diff := cmp.Diff(tt.want(env), got); diff != "" {
				t.Fatalf("apiConfig() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTokenFileIsReadAndRedacted checks that a token from a file is used and
// hidden in the resolver's messages.
func TestTokenFileIsReadAndRedacted(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("file-token-canary\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := NewBuilder(WithTokenFile(tokenFile), WithConfig(&api.Config{Address: "127.0.0.1:1"})).(*builder)
	cli, err := b.newClient(target{service: "s"})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.close()
	if got := cli.redact.Replace("x file-token-canary y"); got != "x [redacted] y" {
		t.Fatalf("redact = %q, want the token hidden", got)
	}
}

func TestBuilderOptionErrors(t *testing.T) {
	tests := []struct {
		opt     Option
		wantErr string
	}{
		{WithWaitTime(0), "WithWaitTime(0s)"},
		{WithMinQueryInterval(-1), "WithMinQueryInterval"},
		{WithRecoveryGrace(-1), "WithRecoveryGrace"},
		{WithBackoff(kitresolver.Backoff{}), "WithBackoff"},
		{WithBackoff(kitresolver.Backoff{Base: time.Second, Max: time.Second, Multiplier: math.NaN()}), "consul: WithBackoff: backoff multiplier NaN"},
		{WithBackoff(kitresolver.Backoff{Base: time.Second, Max: time.Second, Multiplier: 2, Jitter: math.NaN()}), "consul: WithBackoff: backoff jitter NaN"},
		{WithConfig(nil), "WithConfig(nil)"},
		{WithRequestTimeout(0), "consul: WithRequestTimeout(0s): want > 0"},
		{WithRequestTimeout(-time.Second), "consul: WithRequestTimeout(-1s)"},
		{WithSnapshotMaxAge(0), "consul: WithSnapshotMaxAge(0s): want a positive duration"},
		{WithSnapshotMaxAge(-time.Hour), "consul: WithSnapshotMaxAge(-1h0m0s)"},
		{WithToken("tok3n-canary\r\nX-Injected: 1"), "consul: the ACL token (WithToken, WithTokenFile, WithConfig or CONSUL_HTTP_TOKEN[_FILE]) contains a control character"},
		{WithConfig(&api.Config{Token: "tok3n-canary\x00"}), "contains a control character"},
	}
	for _, tt := range tests {
		_, err := NewBuilder(tt.opt).Build(mustTarget(t, "consul:///s"), nil, resolver.BuildOptions{})
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Build() = %v, want error containing %q", err, tt.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "tok3n-canary") {
			t.Errorf("Build() error %q shows the token", err)
		}
	}
}
