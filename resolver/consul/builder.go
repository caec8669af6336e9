package consul

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/resolver/internal/watchshare"
)

// Scheme is the target scheme the Builder serves.
const Scheme = "consul"

var logger = grpclog.Component("grpckit-consul")

// builder builds the resolvers of its channels. Channels that resolve the
// same service with the same query share one watcher (see shareKey). It
// holds no global state.
type builder struct {
	cfg     builderConfig
	watches watchshare.Group[shareKey]
}

// NewBuilder returns a resolver.Builder for consul:// targets, to be passed to
// grpc.NewClient with grpc.WithResolvers. Each resolver it builds talks to the
// agent named in the target's authority, else to the one the standard CONSUL_*
// environment names (CONSUL_HTTP_ADDR, else localhost:8500), with the token,
// TLS and SSL settings of that environment or of the options. Which agents a
// target may name depends on the credentials and WithAllowedAgents.
//
// An invalid option or target makes Build fail, which fails the channel's RPCs
// with the reason; Build itself never waits for the agent.
func NewBuilder(opts ...Option) resolver.Builder {
	return &builder{cfg: newBuilderConfig(opts)}
}

// Scheme returns "consul".
func (b *builder) Scheme() string { return Scheme }

// Build parses the target and starts watching the service.
func (b *builder) Build(t resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	if b.cfg.err != nil {
		return nil, b.cfg.err
	}
	tgt, err := parseTarget(t)
	if err != nil {
		return nil, err
	}
	snap, err := b.snapshot(tgt)
	if err != nil {
		return nil, fmt.Errorf("consul: %w", err)
	}
	// The agent policy is checked for every channel, sharing or not.
	cli, err := b.newClient(tgt)
	if err != nil {
		return nil, err
	}
	m := b.watches.Join(keyOf(tgt), cc, snap, b.cfg.backoff, func(h *watchshare.Hub) func() {
		w := newWatcher(h, cli, tgt, &b.cfg)
		cli = nil // the watcher owns it
		w.rebuild = func() (*agentClient, error) { return b.newClient(tgt) }
		h.Watch = w
		go w.run()
		return w.stop
	})
	if cli != nil { // joined a running watcher
		cli.close()
	}
	return m, nil
}

// agentClient is an API client and what the watcher must clean up or hide.
type agentClient struct {
	api       *api.Client
	redact    *strings.Replacer // hides the token in anything the resolver says
	owned     *http.Client      // the HTTP client created for this resolver, if any
	token     string            // the token it sends, to tell a re-read one from it
	tokenFile string            // where the token was read from, if from a file
}

// newClient makes an API client for tgt from the base configuration, after
// checking that the policy allows the agent tgt names.
func (b *builder) newClient(tgt target) (*agentClient, error) {
	cfg := b.apiConfig(tgt)
	created := cfg.HttpClient == nil
	if !created {
		// The redirect policy is set on a copy: the caller's client, and its
		// transport with the TLS settings, stay as they are.
		hc := *cfg.HttpClient
		cfg.HttpClient = &hc
	}
	cli, err := api.NewClient(cfg) // completes cfg: token, token file, TLS files
	if err != nil {
		// Such errors name files and addresses, not tokens; redact anyway.
		return nil, errorf(newRedactor(cfg.Token), "consul: creating the API client: %v", err)
	}
	if strings.ContainsFunc(cfg.Token, isCtl) {
		// net/http would refuse the header at every query; say it now, and
		// where the token comes from, never what it is.
		return nil, errors.New("consul: the ACL token (WithToken, WithTokenFile, WithConfig or CONSUL_HTTP_TOKEN[_FILE]) " +
			"contains a control character, so it cannot be sent in the X-Consul-Token header")
	}
	// cfg.HttpClient is the client cli uses, not yet used.
	cfg.HttpClient.CheckRedirect = sameOriginRedirects(cfg.HttpClient.CheckRedirect)
	ac := &agentClient{api: cli, redact: newRedactor(cfg.Token), token: cfg.Token, tokenFile: cfg.TokenFile}
	if created {
		ac.owned = cfg.HttpClient
	}
	if err := b.checkAgent(tgt, cfg); err != nil {
		ac.close()
		return nil, err
	}
	return ac, nil
}

// apiConfig returns a fresh configuration: the base (or the CONSUL_*
// environment), the target's agent, then the token options.
func (b *builder) apiConfig(tgt target) *api.Config {
	cfg := b.baseConfig()
	if tgt.agent != "" {
		// api.NewClient takes the scheme from the address ("https://...") as
		// well as from Scheme; replacing the address by the bare host:port of
		// the target must not lose it. TLS settings stay as they are.
		if scheme, _ := splitAddress(configuredAddress(cfg)); scheme == "https" {
			cfg.Scheme = "https"
		}
		cfg.Address = tgt.agent
	}
	if b.cfg.token != "" {
		cfg.Token, cfg.TokenFile = b.cfg.token, ""
	}
	if b.cfg.tokenFile != "" {
		cfg.Token, cfg.TokenFile = "", b.cfg.tokenFile
	}
	return cfg
}

// baseConfig returns a copy of the base configuration, else the CONSUL_*
// environment's.
func (b *builder) baseConfig() *api.Config {
	if b.cfg.base != nil {
		cp := *b.cfg.base
		return &cp
	}
	cfg := api.DefaultConfig()
	cfg.HttpClient = nil // let NewClient build it around the fresh transport
	return cfg
}

// configuredAddress is the address cfg makes a client use: its own, else the
// environment's, as api.NewClient does.
func configuredAddress(cfg *api.Config) string {
	if cfg.Address != "" {
		return cfg.Address
	}
	return api.DefaultConfig().Address
}

// configuredAgent is the host:port of the agent cfg makes a client use; an
// address without a port, which net/http dials on the scheme's port, gets
// that port.
func configuredAgent(cfg *api.Config) string {
	scheme, hostport := splitAddress(configuredAddress(cfg))
	if _, _, err := net.SplitHostPort(hostport); err == nil || hostport == "" || scheme == "unix" {
		return hostport
	}
	if scheme == "" {
		scheme = cmp.Or(cfg.Scheme, api.DefaultConfig().Scheme)
	}
	port := "80"
	if scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), port)
}

// splitAddress splits an api.Config address, [scheme://]host:port[/prefix].
func splitAddress(addr string) (scheme, hostport string) {
	scheme, rest, ok := strings.Cut(addr, "://")
	if !ok {
		scheme, rest = "", addr
	}
	hostport, _, _ = strings.Cut(rest, "/")
	return scheme, hostport
}

// checkAgent refuses the agent tgt names unless the policy allows it: the
// configured agent always; else those of WithAllowedAgents when given; else
// any agent while cfg (completed by api.NewClient) has no credentials, and
// loopback agents when it has.
func (b *builder) checkAgent(tgt target, cfg *api.Config) error {
	if tgt.agent == "" {
		return nil
	}
	configured := configuredAgent(b.baseConfig())
	if canonicalAgent(configured) == canonicalAgent(tgt.agent) {
		return nil
	}
	if b.cfg.agents != nil {
		if b.cfg.agents.allows(tgt.agent) {
			return nil
		}
		return fmt.Errorf("consul: target names agent %q, which consul.WithAllowedAgents does not list", tgt.agent)
	}
	if (cfg.Token == "" && cfg.HttpAuth == nil) || isLoopback(tgt.agent) {
		return nil
	}
	return fmt.Errorf("consul: target names agent %q, not the configured agent %q: "+
		"the client's ACL token or HTTP credentials go only to the configured agent and loopback agents "+
		"unless consul.WithAllowedAgents lists it", tgt.agent, configured)
}

// isCtl reports whether r is a control character, which no HTTP header value
// holds.
func isCtl(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }

// maxRedirects is how many redirects a query follows, as net/http's default.
const maxRedirects = 10

// sameOriginRedirects returns an http.Client CheckRedirect that follows a
// redirect only to the scheme, host and port of the original request, then
// asks next (nil for net/http's default limit). net/http would forward the
// X-Consul-Token header to any host, over plain http too.
func sameOriginRedirects(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		from := via[0].URL
		if req.URL.Scheme != from.Scheme || !strings.EqualFold(req.URL.Host, from.Host) {
			return fmt.Errorf("consul: refusing a redirect from %s://%s to %s://%s: the token goes only to the agent",
				from.Scheme, from.Host, req.URL.Scheme, req.URL.Host)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= maxRedirects {
			return fmt.Errorf("consul: stopped after %d redirects", maxRedirects)
		}
		return nil
	}
}

// close releases the idle connections of an HTTP client the resolver created.
func (c *agentClient) close() {
	if c.owned != nil {
		c.owned.CloseIdleConnections()
	}
}
