package consul

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/api"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// Registration is a service instance registered with a Consul agent. A
// goroutine keeps it registered (anti-entropy) until Deregister: when the
// agent forgets the service, as a restarted dev agent does, or a TTL update
// fails, it registers the service again with backoff.
//
// Its methods are safe for concurrent use.
type Registration struct {
	cli     *api.Client
	reg     *api.AgentServiceRegistration
	checkID string
	cfg     registerConfig
	serving atomic.Bool // TTL mode: report passing (true) or critical

	cancel context.CancelFunc
	done   chan struct{}

	mu           sync.Mutex // serializes Deregister
	deregistered bool
}

// Register validates inst and registers it with the agent cli talks to,
// with a gRPC health check against grpc.health.v1 on inst.Addr (or a TTL
// check, see WithTTLCheck). It returns once the agent accepted the service;
// an error means nothing was left registered.
//
// The service ID is inst.ID, else "<service>-<addr>": a Consul agent keeps
// one ID space for all services, and one server may serve several. Zone and
// Version go to Meta under "zone" and "version", next to inst.Metadata, whose
// keys must therefore not be those and must be valid Consul Meta keys.
func Register(ctx context.Context, cli *api.Client, inst kitresolver.Instance, opts ...RegisterOption) (*Registration, error) {
	cfg := newRegisterConfig(opts)
	if cfg.err != nil {
		return nil, cfg.err
	}
	if cli == nil {
		return nil, errors.New("consul: Register with a nil client")
	}
	reg, err := serviceRegistration(inst, &cfg)
	if err != nil {
		return nil, err
	}
	r := &Registration{cli: cli, reg: reg, checkID: reg.Check.CheckID, cfg: cfg, done: make(chan struct{})}
	r.serving.Store(true)
	if err := r.register(ctx); err != nil {
		return nil, fmt.Errorf("consul: registering %s: %w", reg.ID, err)
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.run(loopCtx)
	return r, nil
}

// ID returns the Consul service ID.
func (r *Registration) ID() string { return r.reg.ID }

// Deregister stops the anti-entropy loop and removes the service from the
// agent. It is idempotent: once it has succeeded, later calls return nil. A
// service the agent no longer knows counts as removed.
func (r *Registration) Deregister(ctx context.Context) error {
	r.cancel()
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.deregistered {
		return nil
	}
	err := r.cli.Agent().ServiceDeregisterOpts(r.reg.ID, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("consul: deregistering %s: %w", r.reg.ID, err)
	}
	r.deregistered = true
	return nil
}

// register (re)registers the service, then reports the TTL in TTL mode.
func (r *Registration) register(ctx context.Context) error {
	opts := api.ServiceRegisterOpts{ReplaceExistingChecks: true}.WithContext(ctx)
	if err := r.cli.Agent().ServiceRegisterOpts(r.reg, opts); err != nil {
		return err
	}
	if r.cfg.ttl > 0 {
		return r.updateTTL(ctx)
	}
	return nil
}

// updateTTL reports the TTL check passing while serving, critical after Drain.
func (r *Registration) updateTTL(ctx context.Context) error {
	st, out := api.HealthPassing, "serving"
	if !r.serving.Load() {
		st, out = api.HealthCritical, "draining"
	}
	return r.cli.Agent().UpdateTTLOpts(r.checkID, out, st, (&api.QueryOptions{}).WithContext(ctx))
}

// run keeps the service registered until ctx is cancelled.
func (r *Registration) run(ctx context.Context) {
	defer close(r.done)
	backoff := r.cfg.retryBackoff()
	delay, attempt := r.cfg.period(), 0
	for sleep(ctx, delay) {
		if err := r.tick(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			logger.Warningf("grpckit/consul: keeping %s registered: %v", r.reg.ID, err)
			delay, attempt = backoff.Delay(attempt), attempt+1
			continue
		}
		delay, attempt = r.cfg.period(), 0
	}
}

// tick makes sure the agent knows the service, registering it again if not.
func (r *Registration) tick(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, max(r.cfg.period(), 2*time.Second))
	defer cancel()
	if r.cfg.ttl > 0 {
		err := r.updateTTL(ctx)
		if err == nil {
			return nil
		}
		vlogf("grpckit/consul: TTL update of %s failed (%v); registering again", r.reg.ID, err)
		return r.register(ctx)
	}
	_, _, err := r.cli.Agent().Service(r.reg.ID, (&api.QueryOptions{}).WithContext(ctx))
	if !isNotFound(err) {
		return err
	}
	logger.Infof("grpckit/consul: the agent forgot %s; registering it again", r.reg.ID)
	return r.register(ctx)
}

// sleep waits d or until ctx is done, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// serviceRegistration maps inst to the agent's registration.
func serviceRegistration(inst kitresolver.Instance, cfg *registerConfig) (*api.AgentServiceRegistration, error) {
	if inst.ID == "" && inst.Addr != "" {
		inst.ID = inst.Service + "-" + inst.Addr
	}
	if err := inst.Validate(); err != nil {
		return nil, fmt.Errorf("consul: %w", err)
	}
	if err := validateMeta(inst.Metadata); err != nil {
		return nil, err
	}
	host, portStr, _ := net.SplitHostPort(inst.Addr) // validated above
	port, _ := strconv.Atoi(portStr)
	id := inst.ID
	return &api.AgentServiceRegistration{
		ID:      id,
		Name:    inst.Service,
		Address: host,
		Port:    port,
		Tags:    cfg.tags,
		Meta:    joinMeta(inst),
		Weights: &api.AgentWeights{Passing: int(inst.EffectiveWeight()), Warning: int(cfg.warningWeight)},
		Check:   serviceCheck(id, inst.Addr, cfg),
	}, nil
}

// serviceCheck is the gRPC health check of the instance, or its TTL check.
func serviceCheck(id, addr string, cfg *registerConfig) *api.AgentServiceCheck {
	c := &api.AgentServiceCheck{CheckID: "service:" + id}
	if cfg.deregisterAfter > 0 {
		c.DeregisterCriticalServiceAfter = cfg.deregisterAfter.String()
	}
	if cfg.ttl > 0 {
		c.Name, c.TTL = "grpckit TTL", cfg.ttl.String()
		return c
	}
	c.Name = "gRPC health"
	c.GRPC = addr
	if cfg.healthService != "" {
		c.GRPC += "/" + cfg.healthService
	}
	c.GRPCUseTLS, c.TLSServerName = cfg.checkTLS, cfg.checkServerName
	c.Interval, c.Timeout = cfg.interval.String(), cfg.checkTimeout().String()
	return c
}

// Consul's limits on service Meta.
const (
	maxMetaPairs    = 64
	maxMetaValueLen = 512
)

var metaKeyRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// validateMeta refuses metadata that Consul would refuse or that would
// collide with the keys carrying Zone and Version.
func validateMeta(md map[string]string) error {
	if len(md) > maxMetaPairs-2 {
		return fmt.Errorf("consul: %d metadata entries, at most %d fit in Consul Meta", len(md), maxMetaPairs-2)
	}
	for k, v := range md {
		switch {
		case k == metaZone || k == metaVersion:
			return fmt.Errorf("consul: metadata key %q is reserved for Instance.%s", k, strings.ToUpper(k[:1])+k[1:])
		case !metaKeyRE.MatchString(k):
			return fmt.Errorf("consul: metadata key %q: want 1-128 of A-Z a-z 0-9 _ -", k)
		case strings.HasPrefix(k, "consul-"):
			return fmt.Errorf("consul: metadata key %q: the consul- prefix is reserved", k)
		case len(v) > maxMetaValueLen:
			return fmt.Errorf("consul: metadata %q: value longer than %d bytes", k, maxMetaValueLen)
		}
	}
	return nil
}
