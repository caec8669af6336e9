package consul

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/resolver"
)

// Scheme is the target scheme the Builder serves.
const Scheme = "consul"

var logger = grpclog.Component("grpckit-consul")

// builder builds a watcher per channel. It holds no global state.
type builder struct {
	cfg builderConfig
}

// NewBuilder returns a resolver.Builder for consul:// targets, to be passed to
// grpc.NewClient with grpc.WithResolvers. Each resolver it builds talks to the
// agent named in the target's authority, else to the one the standard CONSUL_*
// environment names (CONSUL_HTTP_ADDR, else 127.0.0.1:8500), with the token,
// TLS and SSL settings of that environment or of the options.
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
	cli, err := b.newClient(tgt)
	if err != nil {
		return nil, err
	}
	w := newWatcher(cc, cli, tgt, &b.cfg, snap)
	go w.run()
	return w, nil
}

// agentClient is an API client and what the watcher must clean up or hide.
type agentClient struct {
	api    *api.Client
	redact *strings.Replacer // hides the token in anything the resolver says
	owned  *http.Client      // the HTTP client created for this resolver, if any
}

// newClient makes an API client for tgt from the base configuration.
func (b *builder) newClient(tgt target) (*agentClient, error) {
	cfg := b.apiConfig(tgt)
	created := cfg.HttpClient == nil
	cli, err := api.NewClient(cfg)
	if err != nil {
		// Such errors name files and addresses, not tokens; redact anyway.
		return nil, errorf(newRedactor(cfg.Token), "consul: creating the API client: %v", err)
	}
	ac := &agentClient{api: cli, redact: newRedactor(cfg.Token)}
	if created {
		ac.owned = cfg.HttpClient
	}
	return ac, nil
}

// apiConfig returns a fresh configuration: the base (or the CONSUL_*
// environment), the target's agent, then the token options.
func (b *builder) apiConfig(tgt target) *api.Config {
	var cfg *api.Config
	if b.cfg.base != nil {
		cp := *b.cfg.base
		cfg = &cp
	} else {
		cfg = api.DefaultConfig()
		cfg.HttpClient = nil // let NewClient build it around the fresh transport
	}
	if tgt.agent != "" {
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

// close releases the idle connections of an HTTP client the resolver created.
func (c *agentClient) close() {
	if c.owned != nil {
		c.owned.CloseIdleConnections()
	}
}
