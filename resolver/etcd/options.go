package etcd

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// DefaultPrefix is the key prefix under which services are registered:
// an instance lives at <prefix><service>/<instance-id>.
const DefaultPrefix = "/services/"

// DefaultTTL is the lease TTL of a registration.
const DefaultTTL = 10 * time.Second

// DefaultRecoveryGrace is how long, right after etcd was unreachable, an
// empty instance set is held back while registrars register again (see
// WithRecoveryGrace).
const DefaultRecoveryGrace = 20 * time.Second

// DefaultRequestTimeout bounds each etcd request (Get, Grant, Put) that the
// resolver and the registrar make, so that a black-holed registry turns into
// an error and a retry instead of a hang, and each Deregister as a whole.
const DefaultRequestTimeout = 5 * time.Second

// Option configures NewBuilder.
type Option interface{ applyBuilder(*config) }

// RegisterOption configures Register.
type RegisterOption interface{ applyRegister(*registerConfig) }

// CommonOption configures both NewBuilder and Register, so that a resolver and
// a registrar can share one option list.
type CommonOption interface {
	Option
	RegisterOption
}

// config is what both sides share.
type config struct {
	prefix         string
	backoff        kitresolver.Backoff
	backoffSet     bool
	requestTimeout time.Duration
	recoveryGrace  time.Duration // resolver only
	snapshotDir    string        // resolver only; "" for no snapshots
	snapshotSet    bool
	snapshotMaxAge time.Duration // resolver only; 0 for kitresolver.DefaultSnapshotMaxAge
	maxAgeSet      bool
}

// registerConfig is the registrar's configuration.
type registerConfig struct {
	config
	ttl     time.Duration
	onState func(RegistrationState, error)
}

type commonOption func(*config)

func (o commonOption) applyBuilder(c *config)          { o(c) }
func (o commonOption) applyRegister(c *registerConfig) { o(&c.config) }

type builderOption func(*config)

func (o builderOption) applyBuilder(c *config) { o(c) }

type registerOption func(*registerConfig)

func (o registerOption) applyRegister(c *registerConfig) { o(c) }

// WithPrefix sets the key prefix (default DefaultPrefix). A prefix that does
// not end in "/" gets one, so "/svc" and "/svc/" both give keys
// /svc/<service>/<id>. The empty prefix gives keys <service>/<id>, the layout
// of etcd's naming/endpoints with the service as its target.
func WithPrefix(prefix string) CommonOption {
	return commonOption(func(c *config) { c.prefix = normalizePrefix(prefix) })
}

// WithBackoff sets the delays between retries after registry errors (default
// kitresolver.DefaultBackoff for the resolver; for the registrar the same with
// Max capped at a third of the TTL, so that a lost lease is restored well
// within one TTL of the registry coming back).
func WithBackoff(b kitresolver.Backoff) CommonOption {
	return commonOption(func(c *config) { c.backoff, c.backoffSet = b, true })
}

// WithRequestTimeout bounds every etcd request (default DefaultRequestTimeout),
// and a whole Deregister with its retries.
func WithRequestTimeout(d time.Duration) CommonOption {
	return commonOption(func(c *config) { c.requestTimeout = d })
}

// WithRecoveryGrace sets how long, after the watch failed (etcd unreachable,
// restarted, without a leader, compacted) and the service was listed again,
// an empty instance set is held back: the leases of the registrations may
// have expired during the outage, and their registrars write the keys again
// within moments of etcd coming back. The channels keep their last set
// meanwhile; any instance that appears is published at once, and a set still
// empty when the grace ends is published then. Outside that window the empty
// set is published at once. 0 turns the hold off (default
// DefaultRecoveryGrace).
func WithRecoveryGrace(d time.Duration) Option {
	return builderOption(func(c *config) { c.recoveryGrace = d })
}

// WithSnapshotDir makes the resolver keep the last good instance set of each
// target it serves in a file in dir (created if needed), one file per
// service key, and serve that set, marked stale (see kitresolver.IsStale),
// when etcd has not answered at start-up: after a failed request or
// kitresolver.SnapshotGrace, whichever comes first. etcd's first answer
// replaces it. Give each etcd cluster its own directory. See
// kitresolver.Snapshot for the file.
func WithSnapshotDir(dir string) Option {
	return builderOption(func(c *config) {
		if abs, err := filepath.Abs(dir); err == nil && dir != "" {
			dir = abs // a later chdir must not move the snapshots
		}
		c.snapshotDir, c.snapshotSet = dir, true
	})
}

// WithSnapshotMaxAge sets how old a snapshot (see WithSnapshotDir) may be and
// still be served at start-up (default kitresolver.DefaultSnapshotMaxAge); d
// must be positive. A client rewrites its snapshot's time every quarter of d
// (at most hourly) while etcd answers, so the age counts from about the last
// time a client of the service saw etcd work: choose d short enough that
// servers decommissioned during that long an outage are not dialed.
func WithSnapshotMaxAge(d time.Duration) Option {
	return builderOption(func(c *config) { c.snapshotMaxAge, c.maxAgeSet = d, true })
}

// WithTTL sets the lease TTL of a registration (default DefaultTTL). etcd
// counts in whole seconds: the TTL is rounded up to one, and must be at least
// one second. The instance disappears at most about one TTL after its process
// dies without calling Deregister.
func WithTTL(ttl time.Duration) RegisterOption {
	return registerOption(func(c *registerConfig) { c.ttl = ttl })
}

// WithStateFunc sets a function called when the registration is lost (the
// lease expired or the key was deleted; err says why) and when it is restored
// (err is nil). It runs on the registrar's goroutine: it must not block for
// long, and must not call Deregister.
func WithStateFunc(fn func(state RegistrationState, err error)) RegisterOption {
	return registerOption(func(c *registerConfig) { c.onState = fn })
}

func normalizePrefix(p string) string {
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

func newConfig(opts []Option) config {
	c := defaultConfig()
	for _, o := range opts {
		o.applyBuilder(&c)
	}
	return c
}

func defaultConfig() config {
	return config{prefix: DefaultPrefix, backoff: kitresolver.DefaultBackoff, requestTimeout: DefaultRequestTimeout,
		recoveryGrace: DefaultRecoveryGrace}
}

func newRegisterConfig(opts []RegisterOption) (registerConfig, error) {
	c := registerConfig{config: defaultConfig(), ttl: DefaultTTL}
	for _, o := range opts {
		o.applyRegister(&c)
	}
	if c.ttl < time.Second {
		return c, fmt.Errorf("etcd: WithTTL(%v): below etcd's minimum of 1s", c.ttl)
	}
	if !c.backoffSet {
		c.backoff.Max = min(c.backoff.Max, c.ttl/3)
	}
	return c, c.validate()
}

// validate reports a configuration that cannot work.
func (c config) validate() error {
	if err := c.backoff.Validate(); err != nil {
		return fmt.Errorf("etcd: WithBackoff: %w", err)
	}
	switch {
	case c.requestTimeout <= 0:
		return fmt.Errorf("etcd: WithRequestTimeout(%v): want > 0", c.requestTimeout)
	case c.recoveryGrace < 0:
		return fmt.Errorf("etcd: WithRecoveryGrace(%v): want >= 0", c.recoveryGrace)
	case c.snapshotSet && c.snapshotDir == "":
		return errors.New(`etcd: WithSnapshotDir(""): want a directory`)
	case c.maxAgeSet && c.snapshotMaxAge <= 0:
		return fmt.Errorf("etcd: WithSnapshotMaxAge(%v): want a positive duration", c.snapshotMaxAge)
	}
	return nil
}

// ttlSeconds returns the lease TTL in whole seconds, rounded up.
func (c registerConfig) ttlSeconds() int64 {
	return int64((c.ttl + time.Second - 1) / time.Second)
}

// serviceKey returns the key prefix of a service's instances, with the
// trailing "/" that keeps "greeter" from matching "greeter2".
func (c config) serviceKey(service string) string {
	return c.prefix + service + "/"
}
