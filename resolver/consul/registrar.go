package consul

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
	note    string    // the check's Notes, which tell this registration from another with the same ID
	born    time.Time // when Register made it, also in note: a newer registration replaces it
	cfg     registerConfig
	serving atomic.Bool // TTL mode: report passing (true) or critical

	cancel context.CancelFunc
	done   chan struct{}

	// removing is a one-slot semaphore held by the Deregister that is
	// removing the service; another waits for it only as long as its own
	// context allows. It is taken before mu, never while holding mu.
	removing chan struct{}

	mu           sync.Mutex // guards deregistered
	deregistered bool
}

// Register validates inst and registers it with the agent cli talks to,
// with a gRPC health check against grpc.health.v1 on inst.Addr (or a TTL
// check, see WithTTLCheck). It returns once the agent accepted the service
// (and, in TTL mode, its first TTL report), or within the request timeout
// (WithRequestTimeout) when ctx allows longer. An error means nothing was left
// registered: when a step fails after the agent may have accepted the service
// (a lost answer, a 5xx answer as a proxy in front of the agent gives, a
// failed first TTL report), Register removes it again, taking up to another
// request timeout, even past ctx; should that fail too, the error says so,
// and Consul removes the service once its check has been critical for
// WithDeregisterCriticalServiceAfter.
//
// The service ID is inst.ID, else "<service>-<addr>": a Consul agent keeps
// one ID space for all services, and one server may serve several. The IDs
// "." and "..", which the agent's HTTP API cannot name, are refused. Zone and
// Version go to Meta under "zone" and "version", next to inst.Metadata, whose
// keys must therefore not be those and must be valid Consul Meta keys.
//
// Registering an ID the agent already holds replaces that registration; the
// newest one owns the ID. Each Registration marks its check's Notes with a
// random nonce and the time it was made, so a Registration that was replaced
// neither keeps the ID registered nor removes it (see Deregister), and one
// that finds a registration made over a minute before it back in its place
// (the agent lost its state and the older one registered first) registers
// itself again.
//
// Register uses cli as it is. Its http.Client follows redirects and, like
// any net/http client, forwards the X-Consul-Token header to whatever host a
// redirect names; give cli an http.Client whose CheckRedirect refuses other
// hosts if a redirect from the agent's address could lead elsewhere (the
// resolver refuses them itself).
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
	r := newRegistration(cli, reg, cfg)
	regCtx, stop := context.WithTimeout(ctx, cfg.requestTimeout)
	defer stop()
	if err := r.registerFirst(regCtx); err != nil {
		return nil, fmt.Errorf("consul: registering %s: %w", reg.ID, err)
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.run(loopCtx)
	if cfg.waitPassing {
		if err := r.waitPassing(ctx); err != nil {
			return nil, errors.Join(err, r.Deregister(context.WithoutCancel(ctx))) // bounded by the request timeout
		}
	}
	return r, nil
}

// waitPassing polls Consul until it lists the instance among the passing
// instances of its service, as clients' resolvers see it, for at most
// WithDeregisterCriticalServiceAfter (at least a minute, as Consul counts it).
func (r *Registration) waitPassing(ctx context.Context) error {
	if r.cfg.deregisterAfter > 0 { // 0: Consul never reaps it; ctx alone ends the wait
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, max(r.cfg.deregisterAfter, time.Minute)) // Consul's minimum
		defer cancel()
	}
	for {
		entries, _, err := r.cli.Health().Service(r.reg.Name, "", true, (&api.QueryOptions{}).WithContext(ctx))
		if err == nil && slices.ContainsFunc(entries, r.isMe) {
			return nil
		}
		if !sleep(ctx, drainPoll) {
			return fmt.Errorf("consul: registering %s: not passing in Consul before the wait ended (%w); last check output: %s",
				r.reg.ID, errors.Join(ctx.Err(), err), r.checkOutput())
		}
	}
}

// checkOutput returns what the agent last said of the instance's checks.
func (r *Registration) checkOutput() string {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.requestTimeout)
	defer cancel()
	_, info, err := r.cli.Agent().AgentHealthServiceByIDOpts(r.reg.ID, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil || info == nil {
		return fmt.Sprintf("unknown (%v)", err)
	}
	var out []string
	for _, c := range info.Checks {
		out = append(out, fmt.Sprintf("%s %s: %q", c.CheckID, c.Status, c.Output))
	}
	return strings.Join(out, "; ")
}

// newRegistration returns the Registration of reg, its check marked with a
// new nonce.
func newRegistration(cli *api.Client, reg *api.AgentServiceRegistration, cfg registerConfig) *Registration {
	born := time.Now().UTC()
	reg.Check.Notes = "registered by grpckit, registration " + rand.Text() + notesTimeSep + born.Format(time.RFC3339Nano)
	r := &Registration{
		cli: cli, reg: reg, checkID: reg.Check.CheckID, note: reg.Check.Notes, born: born, cfg: cfg,
		done: make(chan struct{}), removing: make(chan struct{}, 1),
	}
	r.serving.Store(true)
	return r
}

// ID returns the Consul service ID.
func (r *Registration) ID() string { return r.reg.ID }

// Deregister stops the anti-entropy loop and removes the service from the
// agent, retrying with backoff while the agent is unreachable (or a proxy in
// front of it answers 5xx or 429). It returns within the request timeout
// (WithRequestTimeout) or when ctx ends, whichever comes first, whatever ctx
// it is given, so a server's shutdown never hangs on an unreachable agent;
// the error then says what becomes of the service.
//
// It is idempotent and safe to call concurrently: once it has succeeded, later
// calls return nil at once; while one call is removing the service another
// waits for it only until its own ctx or timeout ends; after a failure a
// later call tries again. A service the agent no longer knows counts as
// removed.
//
// Deregister removes only this registration: when the agent holds a newer
// one with the same ID (another Register, in this process or another), it
// leaves that one registered and returns nil. Consul's agent API has no
// check-and-set delete, so Deregister reads the registration, compares the
// nonce in its check's Notes and then deletes by ID; a newer registration
// made between the read and the delete, milliseconds apart, is still removed,
// and its own Registration registers it again within one check interval (one
// third of the TTL in TTL mode).
func (r *Registration) Deregister(ctx context.Context) error {
	if r.isDeregistered() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.requestTimeout)
	defer cancel()
	r.cancel()
	select {
	case <-r.done:
	case <-ctx.Done():
		return r.deregisterErr(ctx.Err())
	}
	select {
	case r.removing <- struct{}{}:
		defer func() { <-r.removing }()
	case <-ctx.Done():
		return r.deregisterErr(ctx.Err())
	}
	if r.isDeregistered() {
		return nil
	}
	if err := r.removeRetrying(ctx); err != nil {
		return r.deregisterErr(err)
	}
	r.mu.Lock()
	r.deregistered = true
	r.mu.Unlock()
	return nil
}

func (r *Registration) isDeregistered() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.deregistered
}

// removeRetrying calls deregisterOwned until it succeeds, the agent refuses
// (see isRefusal; a 5xx or 429 answer is retried), nothing listens at the
// agent's address (a stopped agent: retrying would only hold a shutdown), or
// ctx ends.
func (r *Registration) removeRetrying(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		err := r.deregisterOwned(ctx)
		if err == nil || isRefusal(err) || isConnRefused(err) {
			return err
		}
		if !sleep(ctx, r.cfg.backoff.Delay(attempt)) {
			return fmt.Errorf("%w (%w)", err, ctx.Err())
		}
	}
}

// deregisterErr says why Deregister gave up and what becomes of the service.
func (r *Registration) deregisterErr(err error) error {
	if r.cfg.deregisterAfter > 0 {
		return fmt.Errorf("consul: deregistering %s: %w; the agent keeps it until its check has been critical for %v", r.reg.ID, err, r.cfg.reapAfter())
	}
	return fmt.Errorf("consul: deregistering %s: %w; the agent keeps it until it is deregistered", r.reg.ID, err)
}

// ownership is what the agent holds under the registration's ID.
type ownership int

const (
	owned ownership = iota // this registration
	gone                   // nothing
	taken                  // another registration, which replaced this one
	older                  // an older registration, back after the agent lost its state
)

// takeBackMargin is how much older than this registration another of the
// same ID must have been made for this one to take the ID back from it: more
// than the clocks of two hosts registering with one agent may disagree.
const takeBackMargin = time.Minute

// notesTimeSep separates a registration's nonce from the time it was made in
// its check's Notes.
const notesTimeSep = " made "

// madeAt returns the time a grpckit registration with these check Notes was
// made; ok is false for Notes of another kind.
func madeAt(notes string) (t time.Time, ok bool) {
	_, at, found := strings.Cut(notes, notesTimeSep)
	if !found || !strings.HasPrefix(notes, "registered by grpckit, ") {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	return t, err == nil
}

// errTaken ends the anti-entropy loop of a registration another replaced.
var errTaken = errors.New("the agent holds a newer registration with the same ID")

// ownership reads the agent's registration of the ID and tells whose it is.
func (r *Registration) ownership(ctx context.Context) (ownership, error) {
	_, info, err := r.cli.Agent().AgentHealthServiceByIDOpts(r.reg.ID, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return 0, err
	}
	if info == nil || info.Service == nil {
		return gone, nil
	}
	for _, c := range info.Checks {
		if c.CheckID != r.checkID {
			continue
		}
		if c.Notes == r.note {
			return owned, nil
		}
		if at, ok := madeAt(c.Notes); ok && at.Before(r.born.Add(-takeBackMargin)) {
			// An older registration, which this one replaced, registered
			// itself again after the agent lost its state (a restart): the
			// newest still owns the ID. The margin keeps clocks that
			// disagree by less from making the older one look newer.
			return older, nil
		}
	}
	return taken, nil
}

// deregisterOwned removes the service if the agent's registration of the ID
// is this one.
func (r *Registration) deregisterOwned(ctx context.Context) error {
	own, err := r.ownership(ctx)
	if err != nil {
		return err
	}
	switch own {
	case gone:
		return nil
	case taken: // an older one (own == older) this newer one removes
		logger.Infof("grpckit/consul: %s: a newer registration replaced this one; leaving it registered", r.reg.ID)
		return nil
	}
	err = r.cli.Agent().ServiceDeregisterOpts(r.reg.ID, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

// registerFirst registers the service and, in TTL mode, reports it passing.
// When a step fails after the agent may have accepted the service, it removes
// the service again, so a failed Register leaves nothing registered.
func (r *Registration) registerFirst(ctx context.Context) error {
	err := r.registerService(ctx)
	if isRefusal(err) || isDialError(err) {
		return err // refused, or never sent: nothing was registered
	}
	if err == nil && r.cfg.ttl > 0 {
		if err = r.updateTTL(ctx); err != nil {
			err = fmt.Errorf("first TTL report: %w", err)
		}
	}
	if err == nil {
		return nil
	}
	return r.rollback(ctx, err)
}

// isDialError reports whether err is a failure to connect, so that the
// request was never sent.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// isConnRefused reports whether err is a connection the agent's host refused:
// no agent listens there.
func isConnRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}

// rollback removes what a failed registerFirst may have left, and returns
// cause, saying if the service may be left registered.
func (r *Registration) rollback(ctx context.Context, cause error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.requestTimeout)
	defer cancel()
	err := r.deregisterOwned(ctx)
	switch {
	case err == nil:
		return cause
	case r.cfg.deregisterAfter > 0:
		return fmt.Errorf("%w; removing it again failed (%v): if the agent holds it, Consul removes it once its check has been critical for %v", cause, err, r.cfg.reapAfter())
	default:
		return fmt.Errorf("%w; removing it again failed (%v): the agent may hold it until it is deregistered", cause, err)
	}
}

// registerService registers the service, replacing its checks.
func (r *Registration) registerService(ctx context.Context) error {
	opts := api.ServiceRegisterOpts{ReplaceExistingChecks: true}.WithContext(ctx)
	return r.cli.Agent().ServiceRegisterOpts(r.reg, opts)
}

// register (re)registers the service, then reports the TTL in TTL mode.
func (r *Registration) register(ctx context.Context) error {
	if err := r.registerService(ctx); err != nil {
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

// run keeps the service registered until ctx is cancelled or another
// registration replaces it.
func (r *Registration) run(ctx context.Context) {
	defer close(r.done)
	backoff := r.cfg.retryBackoff()
	delay, attempt := r.cfg.period(), 0
	for sleep(ctx, delay) {
		err := r.tick(ctx)
		switch {
		case err == nil:
			delay, attempt = r.cfg.period(), 0
		case ctx.Err() != nil:
			return
		case errors.Is(err, errTaken):
			logger.Warningf("grpckit/consul: %s: %v; this registration stops keeping it registered", r.reg.ID, err)
			return
		default:
			logger.Warningf("grpckit/consul: keeping %s registered: %v", r.reg.ID, err)
			delay, attempt = backoff.Delay(attempt), attempt+1
		}
	}
}

// tick makes sure the agent holds this registration, registering it again if
// the agent forgot it, and reports the TTL in TTL mode.
func (r *Registration) tick(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, max(r.cfg.period(), 2*time.Second))
	defer cancel()
	own, err := r.ownership(ctx)
	switch {
	case err != nil:
		return err
	case own == taken:
		return errTaken
	case own == gone:
		logger.Infof("grpckit/consul: the agent forgot %s; registering it again", r.reg.ID)
		return r.register(ctx)
	case own == older:
		logger.Infof("grpckit/consul: the agent holds an older registration of %s, back after the agent lost its state; registering this newer one again", r.reg.ID)
		return r.register(ctx)
	}
	if r.cfg.ttl == 0 {
		return nil
	}
	if err := r.updateTTL(ctx); err != nil {
		vlogf("grpckit/consul: TTL update of %s failed (%v); registering again", r.reg.ID, err)
		return r.register(ctx)
	}
	return nil
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
	if inst.ID == "." || inst.ID == ".." {
		// The agent takes it, but its HTTP paths (/v1/agent/service/deregister/<id>)
		// are cleaned of it: the service could be neither checked nor removed.
		return nil, fmt.Errorf("consul: service ID %q cannot be named in the agent's HTTP API; choose another", inst.ID)
	}
	if err := validateMeta(inst.Metadata); err != nil {
		return nil, err
	}
	host, portStr, _ := net.SplitHostPort(inst.Addr) // validated above: an IP address or a name
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
