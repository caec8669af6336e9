package consul

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/hashicorp/consul/api"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// Defaults of the resolver options, and of the options both sides share.
const (
	// DefaultWaitTime is how long one blocking query may wait for a change.
	DefaultWaitTime = time.Minute
	// DefaultMinQueryInterval is the least time between the starts of two
	// queries when the first brought no change.
	DefaultMinQueryInterval = 200 * time.Millisecond
	// DefaultRecoveryGrace is how long an empty answer is held back after the
	// agent was unreachable or lost its state.
	DefaultRecoveryGrace = 20 * time.Second
	// DefaultRequestTimeout bounds each non-blocking query of the resolver
	// (a blocking one gets its wait time on top), and Register and Deregister
	// whatever their context (see WithRequestTimeout).
	DefaultRequestTimeout = 5 * time.Second
)

// Option configures NewBuilder.
type Option interface{ applyBuilder(*builderConfig) }

// RegisterOption configures Register.
type RegisterOption interface{ applyRegister(*registerConfig) }

// CommonOption configures both NewBuilder and Register (WithBackoff,
// WithRequestTimeout), so that a resolver and a registrar can share one
// option list, as in package etcd.
type CommonOption interface {
	Option
	RegisterOption
}

// builderOption is an Option for NewBuilder only.
type builderOption func(*builderConfig)

func (o builderOption) applyBuilder(c *builderConfig) { o(c) }

// registerOption is a RegisterOption for Register only.
type registerOption func(*registerConfig)

func (o registerOption) applyRegister(c *registerConfig) { o(c) }

// commonOption applies to both sides: builder sets the builder's field,
// register the registrar's, and both report an invalid value the same way.
type commonOption struct {
	builder  func(*builderConfig)
	register func(*registerConfig)
}

func (o commonOption) applyBuilder(c *builderConfig)   { o.builder(c) }
func (o commonOption) applyRegister(c *registerConfig) { o.register(c) }

type builderConfig struct {
	base          *api.Config // nil: api.DefaultConfig()
	token         string
	tokenFile     string
	waitTime      time.Duration
	minInterval   time.Duration
	recoveryGrace time.Duration
	backoff       kitresolver.Backoff
	reqTimeout    time.Duration // bounds a non-blocking query, pads a blocking one
	snapshotDir   string        // "" for no snapshots
	snapshotAge   time.Duration // 0: kitresolver.DefaultSnapshotMaxAge
	agents        *agentList    // nil: the default agent policy (see WithAllowedAgents)
	err           error         // first invalid option
}

func newBuilderConfig(opts []Option) builderConfig {
	c := builderConfig{
		waitTime:      DefaultWaitTime,
		minInterval:   DefaultMinQueryInterval,
		recoveryGrace: DefaultRecoveryGrace,
		backoff:       kitresolver.DefaultBackoff,
		reqTimeout:    DefaultRequestTimeout,
	}
	for _, o := range opts {
		o.applyBuilder(&c)
	}
	return c
}

func (c *builderConfig) invalid(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("consul: "+format, args...)
	}
}

// WithConfig makes the resolver start from a copy of cfg instead of
// api.DefaultConfig(), which reads the standard CONSUL_* environment. A
// target's authority still overrides the host and port of the address, never
// its scheme or TLS settings (see WithAllowedAgents).
func WithConfig(cfg *api.Config) Option {
	return builderOption(func(c *builderConfig) {
		if cfg == nil {
			c.invalid("WithConfig(nil)")
			return
		}
		cp := *cfg
		c.base = &cp
	})
}

// WithToken sets the ACL token, sent only in the X-Consul-Token header. It
// takes precedence over CONSUL_HTTP_TOKEN. A token, from wherever it comes,
// that holds a control character (which no header can carry) makes Build
// fail with an error that says so without showing it.
func WithToken(token string) Option {
	return builderOption(func(c *builderConfig) { c.token = token })
}

// WithTokenFile names a file holding the ACL token. It takes precedence over
// CONSUL_HTTP_TOKEN_FILE and is read when a resolver is built, and again
// whenever the agent refuses the token (403), so a rotated token file is
// followed without rebuilding the channel. The same holds for
// CONSUL_HTTP_TOKEN_FILE.
func WithTokenFile(path string) Option {
	return builderOption(func(c *builderConfig) { c.tokenFile = path })
}

// WithWaitTime sets how long one blocking query may wait for a change
// (default DefaultWaitTime; Consul caps it at 10 minutes).
func WithWaitTime(d time.Duration) Option {
	return builderOption(func(c *builderConfig) {
		if d < time.Second || d > 10*time.Minute {
			c.invalid("WithWaitTime(%v): want 1s to 10m", d)
			return
		}
		c.waitTime = d
	})
}

// WithMinQueryInterval sets the least time between the starts of two queries
// when the first returned no new data, so an agent that answers at once with
// the same or a broken index cannot make the resolver spin (default
// DefaultMinQueryInterval).
func WithMinQueryInterval(d time.Duration) Option {
	return builderOption(func(c *builderConfig) {
		if d <= 0 {
			c.invalid("WithMinQueryInterval(%v): want > 0", d)
			return
		}
		c.minInterval = d
	})
}

// WithRecoveryGrace sets how long, after the agent was unreachable or came
// back with its index reset (a restarted agent forgets its services), an empty
// answer is held back while registrars register again. A non-empty answer is
// always published at once. 0 publishes empty answers at once (default
// DefaultRecoveryGrace).
func WithRecoveryGrace(d time.Duration) Option {
	return builderOption(func(c *builderConfig) {
		if d < 0 {
			c.invalid("WithRecoveryGrace(%v): want >= 0", d)
			return
		}
		c.recoveryGrace = d
	})
}

// WithSnapshotDir makes the resolver keep the last good instance set of each
// target it serves in a file in dir (created if needed), and serve that set,
// marked stale (see kitresolver.IsStale), when the agent has not answered at
// start-up: after a failed query or kitresolver.SnapshotGrace, whichever comes
// first. The agent's first answer replaces it. Each target has its own file,
// named after its agent, datacenter (the configured ones when the target
// names none), service, health filter and tags, so ?tag=v1 and ?tag=v2, or
// consul:///greeter of two clusters, never share one. A snapshot older than the maximum age
// (WithSnapshotMaxAge, default kitresolver.DefaultSnapshotMaxAge, 24h) is not
// served. See kitresolver.Snapshot for the file.
func WithSnapshotDir(dir string) Option {
	return builderOption(func(c *builderConfig) {
		if dir == "" {
			c.invalid(`WithSnapshotDir(""): want a directory`)
			return
		}
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs // a later chdir must not move the snapshots
		}
		c.snapshotDir = dir
	})
}

// WithSnapshotMaxAge sets how old a snapshot (see WithSnapshotDir) may be and
// still be served at start-up (default kitresolver.DefaultSnapshotMaxAge); d
// must be positive. A client rewrites its snapshot's time while the agent
// answers, so the age counts from about the last time a client of the target
// saw the agent work: choose d short enough that servers decommissioned
// during that long an outage are not dialed.
func WithSnapshotMaxAge(d time.Duration) Option {
	return builderOption(func(c *builderConfig) {
		if d <= 0 {
			c.invalid("WithSnapshotMaxAge(%v): want a positive duration", d)
			return
		}
		c.snapshotAge = d
	})
}

// WithAllowedAgents lists the agents a target may name in its authority, as
// host (any port) or host:port; names are compared without regard to case,
// IP addresses by value, and names are never resolved to compare them. The
// configured agent (CONSUL_HTTP_ADDR or WithConfig; on port 80 or 443, as
// its scheme says, when its address has no port) is always allowed. A
// target naming any other agent fails the channel's first use with an error
// that names the agent. WithAllowedAgents() with no host refuses every agent a
// target names.
//
// Without this option, a target may name any agent while the client has no
// credentials, as before; with credentials (a token from an option, a token
// file or CONSUL_HTTP_TOKEN[_FILE], or CONSUL_HTTP_AUTH), only the configured
// agent and loopback addresses (127.0.0.0/8, ::1), where the credentials do
// not leave the host. Whoever writes a target then cannot make the client
// send its token to a host of their choosing.
//
// Whatever the policy, an agent named in a target is reached with the
// configured scheme and TLS settings: https when CONSUL_HTTP_ADDR or the
// configured address starts with https:// or CONSUL_HTTP_SSL is set, with the
// configured CA, client certificate and TLS server name (without one, the
// certificate must be valid for the agent's host as the target names it).
func WithAllowedAgents(hosts ...string) Option {
	return builderOption(func(c *builderConfig) {
		l, err := newAgentList(hosts)
		if err != nil {
			c.invalid("WithAllowedAgents: %v", err)
			return
		}
		c.agents = l
	})
}

// WithBackoff sets the delays between retries after a failure: a failed query
// of the resolver, a failed registration attempt of the registrar (default
// kitresolver.DefaultBackoff; the registrar caps Max and Base at its check
// period, so a restarted agent sees the service again within two periods).
func WithBackoff(b kitresolver.Backoff) CommonOption {
	err := b.Validate()
	return commonOption{
		builder: func(c *builderConfig) {
			if err != nil {
				c.invalid("WithBackoff: %v", err)
				return
			}
			c.backoff = b
		},
		register: func(c *registerConfig) {
			if err != nil {
				c.invalid("WithBackoff: %v", err)
				return
			}
			c.backoff = b
		},
	}
}

// WithRequestTimeout bounds each request to the agent (default
// DefaultRequestTimeout). For the resolver that is each non-blocking query;
// a blocking query may take its wait time (WithWaitTime, plus the jitter
// Consul adds) on top. For the registrar it bounds Register (twice, when it
// must remove a half-done registration), Deregister, and with two check
// periods Drain's wait, whatever their context, so a server's start and
// shutdown never hang on an unreachable agent. d must be positive.
func WithRequestTimeout(d time.Duration) CommonOption {
	return commonOption{
		builder: func(c *builderConfig) {
			if d <= 0 {
				c.invalid("WithRequestTimeout(%v): want > 0", d)
				return
			}
			c.reqTimeout = d
		},
		register: func(c *registerConfig) {
			if d <= 0 {
				c.invalid("WithRequestTimeout(%v): want > 0", d)
				return
			}
			c.requestTimeout = d
		},
	}
}
