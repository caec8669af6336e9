package consul_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/consul/api"

	"github.com/grpckit/grpckit/internal/testutil"
	"github.com/grpckit/grpckit/resolver/consul"
)

// gatewayTransport stands for a reverse proxy in front of the agent that
// answers the first request whose path starts with path with code: after
// passing the request on to the agent (a proxy timing out on an answer
// that came late), or without passing it on (the agent unreachable).
type gatewayTransport struct {
	base      *http.Transport
	path      string
	code      int
	forwarded bool
	done      atomic.Bool
}

func (g *gatewayTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(req.URL.Path, g.path) || g.done.Swap(true) {
		return g.base.RoundTrip(req)
	}
	if g.forwarded {
		resp, err := g.base.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	body := fmt.Sprintf("%d %s from the test's gateway", g.code, http.StatusText(g.code))
	return &http.Response{
		Status: body, StatusCode: g.code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: req,
	}, nil
}

func gatewayClient(t *testing.T, g *gatewayTransport) *api.Client {
	t.Helper()
	g.base = http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(g.base.CloseIdleConnections)
	cfg := agent.Config()
	cfg.HttpClient = &http.Client{Transport: g}
	cli, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cli
}

// TestRegisterRollsBackAfterGatewayError: a 5xx answer to the registration,
// as a proxy in front of the agent gives when it times out on an answer the
// agent did send, says nothing of whether the agent accepted it: Register
// returns an error and the agent holds nothing.
func TestRegisterRollsBackAfterGatewayError(t *testing.T) {
	t.Parallel()
	for _, code := range []int{http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			cli := gatewayClient(t, &gatewayTransport{path: "/v1/agent/service/register", code: code, forwarded: true})
			id := fmt.Sprintf("gateway-register-%d", code)
			r, err := registerGen(t, cli, id, 1, consul.WithTTLCheck(longTTL))
			if err == nil {
				t.Cleanup(func() { _ = r.Deregister(timeoutCtx(t, testutil.DefaultTimeout)) })
				t.Fatal("Register() succeeded despite the gateway's error")
			}
			if got := genOf(t, id); got != "" {
				t.Fatalf("Register() failed (%v) but left gen %q registered", err, got)
			}
		})
	}
}

// TestDeregisterRetriesGatewayError: a 5xx answer to the deregistration, as
// a proxy gives while the agent behind it is unreachable, is retried like a
// failed connection, not taken as the agent's refusal.
func TestDeregisterRetriesGatewayError(t *testing.T) {
	t.Parallel()
	for _, code := range []int{http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusTooManyRequests} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			cli := gatewayClient(t, &gatewayTransport{path: "/v1/agent/service/deregister/", code: code})
			id := fmt.Sprintf("gateway-deregister-%d", code)
			r, err := registerGen(t, cli, id, 1, consul.WithTTLCheck(longTTL))
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Deregister(timeoutCtx(t, testutil.DefaultTimeout)); err != nil {
				t.Fatalf("Deregister() = %v, want it retried past the gateway's %d", err, code)
			}
			if got := genOf(t, id); got != "" {
				t.Fatalf("Deregister() left gen %q registered", got)
			}
		})
	}
}
