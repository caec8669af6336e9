package consul

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/grpc/resolver"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// defaultAgentPort is the port of an agent named in the authority without one.
const defaultAgentPort = "8500"

// errTokenInTarget is returned for a target that carries a token. Targets are
// logged by gRPC, so a token there would leak; the message says where it goes.
var errTokenInTarget = errors.New("consul: a target must not carry a token (gRPC logs targets); " +
	"set CONSUL_HTTP_TOKEN or CONSUL_HTTP_TOKEN_FILE, or use consul.WithToken / consul.WithTokenFile")

// target is a parsed consul://[agent-host:port]/<service>?... target.
type target struct {
	agent   string   // host:port of the agent; "" for the configured default
	service string   // Consul service name
	tags    []string // every tag must match
	dc      string   // datacenter; "" for the agent's
	healthy bool     // only instances whose checks all pass
	near    string   // sort by round-trip time from this node ("_agent" for the agent's)
	stale   bool     // allow any server to answer, not only the leader
}

// parseTarget parses t. Its errors never quote a query value that could be a
// secret.
func parseTarget(t resolver.Target) (target, error) {
	u := t.URL
	if u.User != nil {
		return target{}, errors.New("consul: a target must not carry credentials; use CONSUL_HTTP_TOKEN, CONSUL_HTTP_AUTH or options")
	}
	tgt := target{healthy: true}
	var err error
	if tgt.agent, err = parseAgent(u.Host); err != nil {
		return target{}, err
	}
	if tgt.service, err = parseService(u); err != nil {
		return target{}, err
	}
	if err := tgt.parseQuery(u.RawQuery); err != nil {
		return target{}, err
	}
	return tgt, nil
}

// parseAgent validates the authority and adds the default port.
func parseAgent(authority string) (string, error) {
	if authority == "" {
		return "", nil
	}
	host, port, err := net.SplitHostPort(authority)
	if err != nil {
		host, port = strings.TrimSuffix(strings.TrimPrefix(authority, "["), "]"), defaultAgentPort
	}
	if !isHost(host) {
		// "a:1:2" is not the host "a" on some port, whatever a dialer would
		// make of it.
		return "", fmt.Errorf("consul: target agent %q: want host, host:port, or [IPv6 address]:port", authority)
	}
	agent := net.JoinHostPort(host, port)
	if err := kitresolver.ValidateAddr(agent); err != nil {
		return "", fmt.Errorf("consul: target agent: %w", err)
	}
	return agent, nil
}

func parseService(u url.URL) (string, error) {
	svc := strings.TrimPrefix(u.Path, "/")
	if svc == "" {
		svc = strings.TrimPrefix(u.Opaque, "/")
	}
	if err := kitresolver.ValidateServiceName(svc); err != nil {
		return "", fmt.Errorf("consul: target service: %w", err)
	}
	return svc, nil
}

// knownParams lists the query parameters a target may carry.
var knownParams = []string{"dc", "healthy", "near", "stale", "tag"}

func (tgt *target) parseQuery(raw string) error {
	q, err := url.ParseQuery(raw)
	if err != nil {
		// The parser's error can quote a piece of the query, which could be a
		// secret; say what is wrong without it.
		return errors.New("consul: target query is malformed")
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := tgt.setParam(k, q[k]); err != nil {
			return err
		}
	}
	return nil
}

func (tgt *target) setParam(key string, vals []string) error {
	if strings.Contains(strings.ToLower(key), "token") {
		return errTokenInTarget
	}
	if !slices.Contains(knownParams, key) {
		return fmt.Errorf("consul: unknown target parameter %q (known: %s)", key, strings.Join(knownParams, ", "))
	}
	if key == "tag" {
		return tgt.setTags(vals)
	}
	if len(vals) != 1 {
		return fmt.Errorf("consul: target parameter %q given %d times, want once", key, len(vals))
	}
	return tgt.setSingle(key, vals[0])
}

func (tgt *target) setTags(vals []string) error {
	for _, v := range vals {
		if v == "" {
			return errors.New("consul: target parameter \"tag\" is empty")
		}
	}
	tgt.tags = vals
	return nil
}

func (tgt *target) setSingle(key, val string) error {
	var err error
	switch key {
	case "dc":
		tgt.dc = val
	case "near":
		tgt.near = val
	case "healthy":
		tgt.healthy, err = strconv.ParseBool(val)
	case "stale":
		tgt.stale, err = strconv.ParseBool(val)
	}
	if err != nil {
		return fmt.Errorf("consul: target parameter %q = %q is not a boolean", key, val)
	}
	if val == "" {
		return fmt.Errorf("consul: target parameter %q is empty", key)
	}
	return nil
}

// isHost reports whether host can be the host of a host:port: an IP address
// (an IPv6 one with its zone, if any), or else a name without ':' or '%'.
func isHost(host string) bool {
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	return !strings.ContainsAny(host, ":%")
}

// agentList is the set of agents targets may name (WithAllowedAgents).
type agentList struct {
	hosts map[string]bool // canonical hosts allowed on any port
	addrs map[string]bool // canonical host:port
}

func newAgentList(hosts []string) (*agentList, error) {
	l := &agentList{hosts: map[string]bool{}, addrs: map[string]bool{}}
	for _, h := range hosts {
		host, port, err := net.SplitHostPort(h)
		withPort := err == nil
		if !withPort {
			host, port = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), defaultAgentPort
		}
		if !isHost(host) {
			return nil, fmt.Errorf("%q: want host, host:port or [IPv6 address]:port", h)
		}
		if err := kitresolver.ValidateAddr(net.JoinHostPort(host, port)); err != nil {
			return nil, fmt.Errorf("host %q: %w", h, err)
		}
		if withPort {
			l.addrs[net.JoinHostPort(canonicalHost(host), port)] = true
		} else {
			l.hosts[canonicalHost(host)] = true
		}
	}
	return l, nil
}

// allows reports whether agent, a validated host:port, is in the list.
func (l *agentList) allows(agent string) bool {
	host, port, err := net.SplitHostPort(agent)
	if err != nil {
		return false
	}
	host = canonicalHost(host)
	return l.hosts[host] || l.addrs[net.JoinHostPort(host, port)]
}

// canonicalHost is host in the form agents are compared in: an IP address
// in its standard form, a name in lower case without a final dot.
func canonicalHost(host string) string {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap().String()
	}
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// canonicalAgent is host:port with its host canonical; "" if it is not
// host:port.
func canonicalAgent(hostport string) string {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return ""
	}
	return net.JoinHostPort(canonicalHost(host), port)
}

// isLoopback reports whether agent's host is a loopback IP address. Names,
// localhost included, are not resolved.
func isLoopback(agent string) bool {
	host, _, err := net.SplitHostPort(agent)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
