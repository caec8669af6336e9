package consul_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/internal/testutil"
	"github.com/grpckit/grpckit/resolver/consul"
)

// tlsCanary is the token of the TLS tests; it must never reach a plain-HTTP
// listener.
const tlsCanary = "5e5a1b7c-tls-canary-0000-000000000000"

// fakeAgent is an HTTP(S) server that answers the health query of service
// with one passing instance and records the token of every request and the
// connections it accepted.
type fakeAgent struct {
	srv     *httptest.Server
	service string
	conns   atomic.Int32

	mu     sync.Mutex
	tokens []string // X-Consul-Token of every request that reached the handler
}

func newFakeAgent(t *testing.T, service string, tlsCfg *tls.Config) *fakeAgent {
	t.Helper()
	a := &fakeAgent{service: service}
	a.srv = httptest.NewUnstartedServer(a)
	a.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			a.conns.Add(1)
		}
	}
	a.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are expected
	if tlsCfg != nil {
		a.srv.TLS = tlsCfg
		a.srv.StartTLS()
	} else {
		a.srv.Start()
	}
	t.Cleanup(a.srv.Close)
	return a
}

func (a *fakeAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.tokens = append(a.tokens, r.Header.Get("X-Consul-Token"))
	a.mu.Unlock()
	if r.URL.Path != "/v1/health/service/"+a.service {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("X-Consul-Index", "5")
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `[{"Node":{"Node":"n1","Address":"127.0.0.1"},`+
		`"Service":{"ID":"t1","Service":%q,"Address":"127.0.0.1","Port":50051},`+
		`"Checks":[{"CheckID":"c","Status":"passing"}]}]`, a.service)
}

// seenTokens returns the tokens of the requests the handler saw.
func (a *fakeAgent) seenTokens() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.tokens...)
}

// addr is the agent's host:port.
func (a *fakeAgent) addr() string {
	return strings.TrimPrefix(strings.TrimPrefix(a.srv.URL, "https://"), "http://")
}

// TestTargetAgentKeepsHTTPS: a client configured for HTTPS, by WithConfig or
// by the CONSUL_* environment, keeps HTTPS towards an agent a target names,
// so a plain-HTTP listener there gets a TLS handshake it cannot read, and
// never the token.
func TestTargetAgentKeepsHTTPS(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		opts []consul.Option
	}{
		{"WithConfig https:// address", nil, []consul.Option{consul.WithConfig(&api.Config{Address: "https://consul.invalid:8501", Token: tlsCanary})}},
		{"WithConfig Scheme https", nil, []consul.Option{consul.WithConfig(&api.Config{Address: "consul.invalid:8501", Scheme: "https"}), consul.WithToken(tlsCanary)}},
		{"CONSUL_HTTP_ADDR https://", map[string]string{"CONSUL_HTTP_ADDR": "https://consul.invalid:8501", "CONSUL_HTTP_TOKEN": tlsCanary}, nil},
		{"CONSUL_HTTP_SSL", map[string]string{"CONSUL_HTTP_ADDR": "consul.invalid:8501", "CONSUL_HTTP_SSL": "true", "CONSUL_HTTP_TOKEN": tlsCanary}, nil},
		{"WithConfig without address, CONSUL_HTTP_ADDR https://", map[string]string{"CONSUL_HTTP_ADDR": "https://consul.invalid:8501"}, []consul.Option{consul.WithConfig(&api.Config{Token: tlsCanary})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			plain := newFakeAgent(t, "greeter-tls", nil)
			cc := buildResolver(t, consul.NewBuilder(tt.opts...), "consul://"+plain.addr()+"/greeter-tls")
			waitRefused(t, cc, plain)
		})
	}
}

// waitRefused waits until the resolver reached the plain-HTTP listener and
// reported an error, and fails the test as soon as a request reaches the
// listener's handler.
func waitRefused(t *testing.T, cc *testutil.ResolverClientConn, plain *fakeAgent) {
	t.Helper()
	deadline := time.Now().Add(testutil.DefaultTimeout)
	for reported := false; !reported; {
		if toks := plain.seenTokens(); len(toks) > 0 {
			t.Fatalf("%d plain-HTTP requests reached the listener, the first with the token: %v", len(toks), toks[0] == tlsCanary)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the resolver did not reach the listener and fail (%d connections)", plain.conns.Load())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err := cc.Errors.Receive(ctx)
		cancel()
		reported = err == nil && plain.conns.Load() > 0
	}
	if s, ok := cc.LastState(); ok {
		t.Fatalf("resolver published %v from a plain-HTTP listener", s)
	}
	if n := len(plain.seenTokens()); n != 0 {
		t.Fatalf("%d plain-HTTP requests reached the listener, want none", n)
	}
}

// TestTargetAgentKeepsTLSSettings: the agent a target names is reached over
// TLS with the configured CA, client certificate and server name; the token
// reaches it, and a configured server name its certificate does not carry
// fails the handshake.
func TestTargetAgentKeepsTLSSettings(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, clientPool := writeClientCert(t, dir)
	srvTLS := &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientPool, MinVersion: tls.VersionTLS12}

	tests := []struct {
		serverName string
		ok         bool
	}{
		{"", true},               // verified as the target's host, 127.0.0.1
		{"example.com", true},    // httptest's certificate carries example.com
		{"other.invalid", false}, // and not this
	}
	for _, tt := range tests {
		t.Run("server name "+tt.serverName, func(t *testing.T) {
			secure := newFakeAgent(t, "greeter-tls", srvTLS.Clone())
			caFile := filepath.Join(t.TempDir(), "ca.pem")
			writePEM(t, caFile, "CERTIFICATE", secure.srv.Certificate().Raw)
			cfg := &api.Config{
				Address: "https://consul.invalid:8501",
				Token:   tlsCanary,
				TLSConfig: api.TLSConfig{
					Address: tt.serverName, CAFile: caFile, CertFile: certFile, KeyFile: keyFile,
				},
			}
			b := consul.NewBuilder(consul.WithConfig(cfg), consul.WithAllowedAgents("127.0.0.1"))
			cc := buildResolver(t, b, "consul://"+secure.addr()+"/greeter-tls")
			if !tt.ok {
				if _, err := cc.Errors.Receive(timeoutCtx(t, testutil.DefaultTimeout)); err != nil {
					t.Fatalf("no error with a server name the certificate lacks: %v", err)
				}
				if got := secure.seenTokens(); len(got) != 0 {
					t.Fatalf("requests %q reached the agent despite the failed verification", got)
				}
				return
			}
			s := waitState(t, cc, func(s resolver.State) bool { return len(s.Endpoints) == 1 })
			if got := instances(s)[0].ID; got != "t1" {
				t.Fatalf("instance %q, want t1", got)
			}
			if got := secure.seenTokens(); len(got) == 0 || got[0] != tlsCanary {
				t.Fatalf("the TLS agent did not receive the token")
			}
		})
	}
}

// TestAllowedAgents: which agents a target may name, by credentials and
// WithAllowedAgents; a refused agent fails Build, and the channel's RPCs,
// with an error naming the agent and the option, never the token.
func TestAllowedAgents(t *testing.T) {
	t.Setenv("CONSUL_HTTP_ADDR", "")
	t.Setenv("CONSUL_HTTP_TOKEN", "")
	t.Setenv("CONSUL_HTTP_TOKEN_FILE", "")
	t.Setenv("CONSUL_HTTP_AUTH", "")
	tok := consul.WithToken(tlsCanary)
	// The agents the cases name are not on this machine. An allowed Build
	// starts a watch, whose queries must not leave it: the allowed cases'
	// configuration carries an HTTP client that sends nothing, which the
	// policy does not look at.
	noTraffic := &http.Client{Transport: refuseAll{}}
	https := consul.WithConfig(&api.Config{Address: "https://10.9.9.9:8501", HttpClient: noTraffic})
	local := consul.WithConfig(&api.Config{HttpClient: noTraffic})
	tests := []struct {
		name    string
		env     map[string]string
		opts    []consul.Option
		target  string
		wantErr string // "" for allowed
	}{
		{"no credentials, any agent", nil, nil, "consul://10.9.9.9:8500/s", ""},
		{"no credentials, agent by name", nil, nil, "consul://agent-b.example/s", ""},
		{"token, remote agent", nil, []consul.Option{tok}, "consul://10.9.9.9:8500/s", `agent "10.9.9.9:8500"`},
		{"env token, remote agent", map[string]string{"CONSUL_HTTP_TOKEN": tlsCanary}, nil, "consul://agent-b.example:8501/s", `agent "agent-b.example:8501"`},
		{"basic auth, remote agent", map[string]string{"CONSUL_HTTP_AUTH": "u:" + tlsCanary}, nil, "consul://10.9.9.9:8500/s", "WithAllowedAgents"},
		{"token, loopback agent", nil, []consul.Option{tok}, "consul://127.0.0.2:8500/s", ""},
		{"token, loopback v6 agent", nil, []consul.Option{tok}, "consul://[::1]:8500/s", ""},
		{"token, localhost is a name", nil, []consul.Option{tok}, "consul://localhost:8501/s", `agent "localhost:8501"`},
		{"token, the configured agent", nil, []consul.Option{https, tok}, "consul://10.9.9.9:8501/s", ""},
		{"token, configured host on another port", nil, []consul.Option{https, tok}, "consul://10.9.9.9:8500/s", "WithAllowedAgents"},
		{"token, configured https agent without a port", map[string]string{"CONSUL_HTTP_ADDR": "https://consul.example.com"}, []consul.Option{tok}, "consul://consul.example.com:443/s", ""},
		{"token, configured agent without a port, CONSUL_HTTP_SSL", map[string]string{"CONSUL_HTTP_ADDR": "Consul.Example.com", "CONSUL_HTTP_SSL": "true"}, []consul.Option{tok}, "consul://consul.example.com:443/s", ""},
		{"token, configured http agent without a port", nil, []consul.Option{consul.WithConfig(&api.Config{Address: "http://[2001:db8::7]", HttpClient: noTraffic}), tok}, "consul://[2001:db8::7]:80/s", ""},
		{"token, configured agent without a port, other port", map[string]string{"CONSUL_HTTP_ADDR": "https://consul.example.com"}, []consul.Option{tok}, "consul://consul.example.com:8500/s", `not the configured agent "consul.example.com:443"`},
		{"allowed host", nil, []consul.Option{tok, consul.WithAllowedAgents("10.9.9.9")}, "consul://10.9.9.9:8500/s", ""},
		{"allowed host:port", nil, []consul.Option{tok, consul.WithAllowedAgents("10.9.9.9:8501")}, "consul://10.9.9.9:8501/s", ""},
		{"allowed host:port, other port", nil, []consul.Option{tok, consul.WithAllowedAgents("10.9.9.9:8501")}, "consul://10.9.9.9:8500/s", `agent "10.9.9.9:8500", which consul.WithAllowedAgents does not list`},
		{"allowed name, case and final dot", nil, []consul.Option{tok, consul.WithAllowedAgents("Agent-B.example.")}, "consul://agent-b.EXAMPLE:8500/s", ""},
		{"allowed v6, other form", nil, []consul.Option{tok, consul.WithAllowedAgents("[2001:db8::1]:8500")}, "consul://[2001:db8:0::1]:8500/s", ""},
		{"list replaces the default, no credentials", nil, []consul.Option{consul.WithAllowedAgents("10.1.1.1")}, "consul://10.9.9.9:8500/s", "WithAllowedAgents does not list"},
		{"list replaces the default, loopback", nil, []consul.Option{tok, consul.WithAllowedAgents()}, "consul://127.0.0.1:8500/s", "WithAllowedAgents does not list"},
		{"empty list, configured agent", nil, []consul.Option{https, consul.WithAllowedAgents()}, "consul://10.9.9.9:8501/s", ""},
		{"empty list, no agent in the target", nil, []consul.Option{tok, consul.WithAllowedAgents()}, "consul:///s", ""},
		{"bad host", nil, []consul.Option{consul.WithAllowedAgents("")}, "consul:///s", "consul: WithAllowedAgents"},
		{"unspecified host", nil, []consul.Option{consul.WithAllowedAgents("0.0.0.0")}, "consul:///s", "consul: WithAllowedAgents"},
		{"host with a space", nil, []consul.Option{consul.WithAllowedAgents("a b:1")}, "consul:///s", "consul: WithAllowedAgents"},
		{"host with colons", nil, []consul.Option{consul.WithAllowedAgents("a:1:2")}, "consul:///s", `consul: WithAllowedAgents: "a:1:2": want host, host:port`},
		{"host:port with colons", nil, []consul.Option{consul.WithAllowedAgents("[a:1]:2")}, "consul:///s", `consul: WithAllowedAgents: "[a:1]:2"`},
		{"IPv6 host allowed", nil, []consul.Option{tok, consul.WithAllowedAgents("2001:db8::1")}, "consul://[2001:db8::1]:8501/s", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			opts := tt.opts
			if tt.wantErr == "" { // a refused Build starts nothing
				opts = append([]consul.Option{local}, opts...) // a later WithConfig replaces it: those carry noTraffic too
			}
			err := tryBuild(t, consul.NewBuilder(opts...), tt.target)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Build(%s) = %v, want it allowed", tt.target, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Build(%s) = %v, want an error containing %q", tt.target, err, tt.wantErr)
			case err != nil && strings.Contains(err.Error(), tlsCanary):
				t.Fatalf("Build error %q shows the token", err)
			}
		})
	}

	t.Run("RPC", func(t *testing.T) {
		c, _ := dial(t, "consul://10.9.9.9:8500/greeter", consul.NewBuilder(tok))
		_, err := hello(timeoutCtx(t, testutil.DefaultTimeout), c)
		if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "WithAllowedAgents") {
			t.Fatalf("RPC error %v, want Unavailable naming WithAllowedAgents", err)
		}
	})
}

// tryBuild builds a resolver for target and closes it at cleanup.
func tryBuild(t *testing.T, b resolver.Builder, target string) error {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.Build(resolver.Target{URL: *u}, testutil.NewResolverClientConn(), resolver.BuildOptions{})
	if err == nil {
		t.Cleanup(r.Close)
	}
	return err
}

// writeClientCert writes a self-signed client certificate and its key to
// dir, and returns their paths and a pool that trusts the certificate.
func writeClientCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "grpckit test client"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// refuseAll is an http.RoundTripper that sends nothing.
type refuseAll struct{}

func (refuseAll) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("tls_ext_test: no request leaves the machine")
}
