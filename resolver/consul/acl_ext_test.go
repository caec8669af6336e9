package consul_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/internal/testutil"
	"github.com/grpckit/grpckit/registrytest"
	"github.com/grpckit/grpckit/resolver/consul"
)

// TestACLs: with default_policy deny, a token without service:read makes
// RPCs fail with PermissionDenied as the reason, and the token never shows in
// errors or logs; a token with the rights works.
func TestACLs(t *testing.T) {
	const root = "9b1c6a39-5d2e-4f62-8a7e-0c0c0c0c0001"
	acl := registrytest.StartConsul(t, registrytest.WithACLs(root))
	noRead, err := acl.CreateToken("no-service-read", `node_prefix "" { policy = "read" }`)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := acl.CreateToken("reader", `service_prefix "" { policy = "read" } node_prefix "" { policy = "read" }`)
	if err != nil {
		t.Fatal(err)
	}
	startBackend(t, acl.Client(), "greeter-acl", "a1")
	tgt := "consul://" + acl.Addr() + "/greeter-acl"
	const unknown = "6c1f2b7e-canary-0000-0000-000000000000" // a token the agent does not know

	denied := []struct {
		name   string
		secret string
		opts   []consul.Option
	}{
		{"token without service:read", noRead, []consul.Option{consul.WithToken(noRead)}},
		{"unknown token from CONSUL_HTTP_TOKEN", unknown, nil},
	}
	for _, tt := range denied {
		t.Run(tt.name, func(t *testing.T) {
			if tt.opts == nil {
				t.Setenv("CONSUL_HTTP_TOKEN", tt.secret)
			}
			c, _ := dial(t, tgt, consul.NewBuilder(tt.opts...))
			_, err := hello(timeoutCtx(t, testutil.DefaultTimeout), c)
			if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "consul: querying service") {
				t.Fatalf("RPC error %v, want the resolver's PermissionDenied as the reason", err)
			}
			if strings.Contains(err.Error(), tt.secret) {
				t.Fatalf("RPC error %q contains the token", err)
			}
		})
	}
	for _, secret := range []string{noRead, unknown, root} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("a token appears in the captured logs")
		}
	}

	c, _ := dial(t, tgt, consul.NewBuilder(consul.WithToken(reader)))
	waitServedBy(t, c, "a1")
}

// TestTokenFileRotation: when the agent refuses the token because it was
// rotated (revoked, and its file rewritten with the new one, as a secrets
// agent does), the resolver reads the token file again and goes on with the
// new token, without the channel being rebuilt.
func TestTokenFileRotation(t *testing.T) {
	t.Parallel()
	const root = "9b1c6a39-5d2e-4f62-8a7e-0c0c0c0c0002"
	const service = "greeter-rotate"
	acl := registrytest.StartConsul(t, registrytest.WithACLs(root))
	rules := `service_prefix "" { policy = "read" } node_prefix "" { policy = "read" }`
	first, err := acl.CreateToken("rotate-first", rules)
	if err != nil {
		t.Fatal(err)
	}
	second, err := acl.CreateToken("rotate-second", rules)
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeToken := func(tok string) {
		// Replaced atomically, as secrets agents do.
		tmp := tokenFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, tokenFile); err != nil {
			t.Fatal(err)
		}
	}
	writeToken(first)
	startBackend(t, acl.Client(), service, "r1")
	cfg := acl.Config()
	cfg.Token = ""
	b := consul.NewBuilder(consul.WithConfig(cfg), consul.WithTokenFile(tokenFile), consul.WithWaitTime(time.Second), fastConsulBackoff)
	c, _ := dial(t, "consul://"+acl.Addr()+"/"+service, b)
	waitServedBy(t, c, "r1")

	self, _, err := acl.Client().ACL().TokenReadSelf(&api.QueryOptions{Token: first})
	if err != nil {
		t.Fatal(err)
	}
	writeToken(second)
	if _, err := acl.Client().ACL().TokenDelete(self.AccessorID, nil); err != nil {
		t.Fatal(err)
	}
	waitLogged(t, `code = PermissionDenied desc = consul: querying service "`+service+`"`)
	startBackend(t, acl.Client(), service, "r2")
	waitServedBy(t, c, "r1", "r2")
	for _, secret := range []string{first, second, root} {
		if strings.Contains(logs.String(), secret) {
			t.Fatal("a token appears in the captured logs")
		}
	}
}
