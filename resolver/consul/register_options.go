package consul

import (
	"fmt"
	"time"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// Defaults of the registrar options.
const (
	// DefaultCheckInterval is how often Consul runs the gRPC health check, and
	// how often the registrar makes sure the agent still knows the service.
	DefaultCheckInterval = 5 * time.Second
	// DefaultDeregisterCriticalAfter is how long a service may stay critical
	// before Consul removes it. Consul does not go below one minute.
	DefaultDeregisterCriticalAfter = time.Minute
)

type registerConfig struct {
	interval        time.Duration
	timeout         time.Duration // 0: derived from interval
	deregisterAfter time.Duration
	ttl             time.Duration // > 0: TTL check mode
	healthService   string        // grpc.health.v1 service name to check
	checkTLS        bool
	checkServerName string
	tags            []string
	warningWeight   uint32
	backoff         kitresolver.Backoff
	requestTimeout  time.Duration
	waitPassing     bool
	err             error
}

func newRegisterConfig(opts []RegisterOption) registerConfig {
	c := registerConfig{
		interval:        DefaultCheckInterval,
		deregisterAfter: DefaultDeregisterCriticalAfter,
		warningWeight:   1,
		backoff:         kitresolver.DefaultBackoff,
		requestTimeout:  DefaultRequestTimeout,
	}
	for _, o := range opts {
		o.applyRegister(&c)
	}
	return c
}

func (c *registerConfig) invalid(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("consul: "+format, args...)
	}
}

// checkTimeout is the timeout of one gRPC check: the option, else the
// interval capped at 10 s.
func (c *registerConfig) checkTimeout() time.Duration {
	if c.timeout > 0 {
		return c.timeout
	}
	return min(c.interval, 10*time.Second)
}

// retryBackoff is the backoff between registration attempts, capped at the
// interval so a restarted agent sees the service again within two intervals.
func (c *registerConfig) retryBackoff() kitresolver.Backoff {
	b := c.backoff
	b.Max = min(b.Max, c.period())
	b.Base = min(b.Base, b.Max)
	return b
}

// consulMinDeregisterAfter is the least time Consul lets a check stay
// critical before it removes the service; a shorter
// DeregisterCriticalServiceAfter counts as this one.
const consulMinDeregisterAfter = time.Minute

// reapAfter is how long the service's check stays critical before Consul
// removes the service, as Consul counts it; 0 for never.
func (c *registerConfig) reapAfter() time.Duration {
	if c.deregisterAfter == 0 {
		return 0
	}
	return max(c.deregisterAfter, consulMinDeregisterAfter)
}

// consulMinCheckInterval is the shortest interval at which Consul runs a
// check; it runs one that asks for less at this one.
const consulMinCheckInterval = time.Second

// period is how often the registrar talks to the agent, and how often the
// check runs: the check interval (at least consulMinCheckInterval, as Consul
// runs it), or a third of the TTL in TTL mode.
func (c *registerConfig) period() time.Duration {
	if c.ttl > 0 {
		return c.ttl / 3
	}
	return max(c.interval, consulMinCheckInterval)
}

// WithCheckInterval sets how often Consul runs the gRPC health check (default
// DefaultCheckInterval). The registrar checks that the agent still knows the
// service as often. Consul runs checks at most once a second, so an interval
// under a second counts as one for the registrar too (its checks of the
// agent, and Drain's wait).
func WithCheckInterval(d time.Duration) RegisterOption {
	return registerOption(func(c *registerConfig) {
		if d < 100*time.Millisecond {
			c.invalid("WithCheckInterval(%v): want at least 100ms", d)
			return
		}
		c.interval = d
	})
}

// WithCheckTimeout sets the timeout of one gRPC health check (default: the
// interval, at most 10 s).
func WithCheckTimeout(d time.Duration) RegisterOption {
	return registerOption(func(c *registerConfig) {
		if d <= 0 {
			c.invalid("WithCheckTimeout(%v): want > 0", d)
			return
		}
		c.timeout = d
	})
}

// WithDeregisterCriticalServiceAfter sets how long the service may stay
// critical before Consul deregisters it (default
// DefaultDeregisterCriticalAfter). 0 turns the reaping off. Consul counts
// anything under a minute as a minute, and so do the registrar's errors.
func WithDeregisterCriticalServiceAfter(d time.Duration) RegisterOption {
	return registerOption(func(c *registerConfig) {
		if d < 0 {
			c.invalid("WithDeregisterCriticalServiceAfter(%v): want >= 0", d)
			return
		}
		c.deregisterAfter = d
	})
}

// WithTTLCheck replaces the gRPC health check by a TTL check: the registrar
// itself reports the service passing every ttl/3 until Drain or Deregister.
// Use it when the agent cannot reach the server.
func WithTTLCheck(ttl time.Duration) RegisterOption {
	return registerOption(func(c *registerConfig) {
		if ttl < 300*time.Millisecond {
			c.invalid("WithTTLCheck(%v): want at least 300ms", ttl)
			return
		}
		c.ttl = ttl
	})
}

// WithHealthService makes the gRPC check ask grpc.health.v1 about the named
// service instead of the server as a whole ("").
func WithHealthService(name string) RegisterOption {
	return registerOption(func(c *registerConfig) { c.healthService = name })
}

// WithCheckTLS makes the gRPC check use TLS, verifying the server as
// serverName ("" for the address's host).
func WithCheckTLS(serverName string) RegisterOption {
	return registerOption(func(c *registerConfig) { c.checkTLS, c.checkServerName = true, serverName })
}

// WithTags sets the service's tags, which targets can filter on (?tag=).
func WithTags(tags ...string) RegisterOption {
	return registerOption(func(c *registerConfig) {
		for _, t := range tags {
			if t == "" {
				c.invalid("WithTags: empty tag")
				return
			}
		}
		c.tags = append([]string(nil), tags...)
	})
}

// WithWarningWeight sets Weights.Warning, the weight the instance keeps
// while a check is in warning and the target allows unhealthy instances
// (default 1; 0 sends it nothing).
func WithWarningWeight(w uint32) RegisterOption {
	return registerOption(func(c *registerConfig) {
		if w > kitresolver.MaxWeight {
			c.invalid("WithWarningWeight(%d): above the maximum %d", w, kitresolver.MaxWeight)
			return
		}
		c.warningWeight = w
	})
}

// WithWaitPassing makes Register return only once Consul lists the instance
// as passing, which is when clients' resolvers (healthy=true, the default)
// start sending to it: with the default gRPC check that is the first check
// after registration, up to a check interval later. The server must already
// serve grpc.health.v1 with SERVING (see kitresolver.SetServing). The wait ends with ctx,
// and in any case after WithDeregisterCriticalServiceAfter (a minute at
// least, as Consul counts it), past which Consul would remove a service that
// never passed; Register then removes the service and returns an error with
// the check's last output.
func WithWaitPassing() RegisterOption {
	return registerOption(func(c *registerConfig) { c.waitPassing = true })
}
