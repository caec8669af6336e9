package consul_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/internal/testutil"
	"github.com/grpckit/grpckit/resolver/consul"
)

// redirector answers every request with a 307 to the same path and query on
// to (scheme://host:port).
func redirector(t *testing.T, to string, tlsCfg *tls.Config) *httptest.Server {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, to+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	})
	if tlsCfg == nil {
		s := httptest.NewServer(h)
		t.Cleanup(s.Close)
		return s
	}
	s := httptest.NewUnstartedServer(h)
	s.TLS = tlsCfg
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// TestRedirectsKeepTheToken: an agent, or whatever answers in its place, that
// redirects the resolver to another host, or from https to http, gets its
// query refused: the token never reaches the redirect's target, which sees no
// request at all, and the resolver reports an error that names neither the
// token nor passes off the target's answer as the agent's.
func TestRedirectsKeepTheToken(t *testing.T) {
	t.Setenv("CONSUL_HTTP_TOKEN", "")
	t.Setenv("CONSUL_HTTP_TOKEN_FILE", "")
	const service = "greeter-redir"
	t.Run("http to another host", func(t *testing.T) {
		rec := newFakeAgent(t, service, nil)
		from := redirector(t, rec.srv.URL, nil)
		cfg := &api.Config{Address: from.Listener.Addr().String()}
		cc := buildResolver(t, consul.NewBuilder(consul.WithConfig(cfg), consul.WithToken(tlsCanary)), "consul:///"+service)
		waitRedirectRefused(t, cc, rec)
	})
	t.Run("https to http", func(t *testing.T) {
		rec := newFakeAgent(t, service, nil)
		from := redirector(t, rec.srv.URL, &tls.Config{MinVersion: tls.VersionTLS12})
		caFile := filepath.Join(t.TempDir(), "ca.pem")
		writePEM(t, caFile, "CERTIFICATE", from.Certificate().Raw)
		cfg := &api.Config{Address: from.URL, Token: tlsCanary, TLSConfig: api.TLSConfig{CAFile: caFile}}
		cc := buildResolver(t, consul.NewBuilder(consul.WithConfig(cfg)), "consul:///"+service)
		waitRedirectRefused(t, cc, rec)
	})
	t.Run("user's HTTP client", func(t *testing.T) {
		rec := newFakeAgent(t, service, nil)
		from := redirector(t, rec.srv.URL, nil)
		hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		t.Cleanup(hc.CloseIdleConnections)
		cfg := &api.Config{Address: from.Listener.Addr().String(), HttpClient: hc, Token: tlsCanary}
		cc := buildResolver(t, consul.NewBuilder(consul.WithConfig(cfg)), "consul:///"+service)
		waitRedirectRefused(t, cc, rec)
		if hc.CheckRedirect != nil {
			t.Fatal("the resolver changed the caller's http.Client")
		}
	})
}

// waitRedirectRefused waits for the resolver to report an error about the
// redirect, and fails the test as soon as a request reaches rec.
func waitRedirectRefused(t *testing.T, cc *testutil.ResolverClientConn, rec *fakeAgent) {
	t.Helper()
	deadline := time.Now().Add(testutil.DefaultTimeout)
	for {
		if toks := rec.seenTokens(); len(toks) > 0 {
			t.Fatalf("%d requests reached the redirect's target, the first with the token: %t", len(toks), toks[0] == tlsCanary)
		}
		if time.Now().After(deadline) {
			t.Fatal("the resolver reported no error")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		v, err := cc.Errors.Receive(ctx)
		cancel()
		if err != nil {
			continue
		}
		if msg := v.Error(); !strings.Contains(msg, "redirect") || strings.Contains(msg, tlsCanary) {
			t.Fatalf("reported error %q, want one about the redirect, without the token", msg)
		}
		break
	}
	if s, ok := cc.LastState(); ok {
		t.Fatalf("resolver published %v from the redirect's target", s)
	}
}

// TestSameOriginRedirectIsFollowed: a redirect to the same scheme, host and
// port, as a reverse proxy in front of the agent may send, is followed.
func TestSameOriginRedirectIsFollowed(t *testing.T) {
	const service = "greeter-redir"
	a := &fakeAgent{service: service}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("hop") == "" {
			http.Redirect(w, r, r.URL.RequestURI()+"&hop=1", http.StatusTemporaryRedirect)
			return
		}
		a.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cfg := &api.Config{Address: srv.Listener.Addr().String(), Token: tlsCanary}
	cc := buildResolver(t, consul.NewBuilder(consul.WithConfig(cfg)), "consul:///"+service)
	waitState(t, cc, func(s resolver.State) bool { return len(s.Endpoints) == 1 })
	if toks := a.seenTokens(); len(toks) == 0 || toks[0] != tlsCanary {
		t.Fatal("the redirected query did not carry the token to the same agent")
	}
}
