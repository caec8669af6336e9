package etcd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// RegistrationState is what a WithStateFunc callback is told.
type RegistrationState int

const (
	// StateLost means the key or its lease is gone; the registrar is writing
	// it again.
	StateLost RegistrationState = iota + 1
	// StateRestored means the key is written again under a live lease.
	StateRestored
)

// String returns "lost" or "restored".
func (s RegistrationState) String() string {
	switch s {
	case StateLost:
		return "lost"
	case StateRestored:
		return "restored"
	}
	return fmt.Sprintf("RegistrationState(%d)", int(s))
}

var (
	// errLeaseLost is reported when etcd stops keeping the lease alive.
	errLeaseLost = errors.New("etcd: lease lost")
	// errKeyDeleted is reported when someone else deletes the key.
	errKeyDeleted = errors.New("etcd: key deleted")
)

// Registration is an Instance registered in etcd under a lease that a
// goroutine keeps alive, writing the key again whenever it is lost, until
// Deregister. Its methods are safe for concurrent use.
type Registration struct {
	cli   *clientv3.Client
	cfg   registerConfig
	inst  kitresolver.Instance
	key   string
	value string

	ctx    context.Context // canceled by Deregister
	cancel context.CancelFunc
	done   chan struct{} // closed when the goroutine exits

	// removing is a one-slot semaphore held by the Deregister that is
	// removing the key; another waits for it only as long as its own
	// context allows. It is taken before mu, never while holding mu.
	removing chan struct{}

	mu      sync.Mutex
	lease   clientv3.LeaseID
	rev     int64 // revision of the last write of the key
	removed bool  // Deregister deleted the key and revoked the lease
}

// Register validates inst, grants a lease, writes inst under
// <prefix><service>/<id> and returns once the key is written; a goroutine
// then keeps the lease alive and restores the key whenever it is lost. The
// instance ID defaults to its address. ctx bounds the first write only.
// When the first write fails after etcd granted the lease, that lease (and
// with it the key, should the write have reached etcd) is revoked in the
// background, within the request timeout; Register does not wait for it.
//
// TLS and authentication are the client's: build cli with clientv3.Config's
// TLS, Username and Password fields.
func Register(ctx context.Context, cli *clientv3.Client, inst kitresolver.Instance, opts ...RegisterOption) (*Registration, error) {
	r, err := newRegistration(cli, inst, opts)
	if err != nil {
		return nil, err
	}
	if err := r.write(ctx, 0); err != nil {
		r.cancel()
		r.revokeAbandoned()
		return nil, fmt.Errorf("etcd: registering %s: %w", inst, err)
	}
	go r.run()
	return r, nil
}

// revokeAbandoned revokes, in the background and within the request
// timeout, the lease a failed first write granted, so that neither the lease
// nor a key whose Put reached etcd after all outlives the failed Register
// for a whole TTL. Register does not wait for it; if etcd does not answer in
// time the lease expires with its TTL, no longer kept alive.
func (r *Registration) revokeAbandoned() {
	r.mu.Lock()
	lease := r.lease
	r.mu.Unlock()
	if lease == 0 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), r.cfg.requestTimeout)
		defer cancel()
		if _, err := r.cli.Revoke(ctx, lease); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) && logger.V(2) {
			logger.Infof("etcd: revoking the lease of the failed registration %s: %v; it expires with its TTL", r.key, err)
		}
	}()
}

func newRegistration(cli *clientv3.Client, inst kitresolver.Instance, opts []RegisterOption) (*Registration, error) {
	cfg, err := newRegisterConfig(opts)
	if err != nil {
		return nil, err
	}
	if cli == nil {
		return nil, errors.New("etcd: Register was given a nil client")
	}
	if inst.ID == "" {
		inst.ID = inst.Addr
	}
	if err := inst.Validate(); err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	value, err := encodeValue(inst)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Registration{
		cli: cli, cfg: cfg, inst: inst, key: cfg.serviceKey(inst.Service) + inst.ID, value: string(value),
		ctx: ctx, cancel: cancel, done: make(chan struct{}), removing: make(chan struct{}, 1),
	}, nil
}

// Key returns the etcd key of the registration.
func (r *Registration) Key() string { return r.key }

// Instance returns the registered instance, its ID filled in.
func (r *Registration) Instance() kitresolver.Instance { return r.inst }

// Lease returns the lease the key is currently attached to.
func (r *Registration) Lease() clientv3.LeaseID {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lease
}

// write puts the key under lease, or under a new lease when lease is 0 or
// no longer alive, and records both. A new lease is recorded as soon as it
// is granted: a Put that fails on the client's side may still have reached
// etcd, and Deregister must then find the key's lease.
func (r *Registration) write(ctx context.Context, lease clientv3.LeaseID) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.requestTimeout)
	defer cancel()
	if lease != 0 && !r.leaseAlive(ctx, lease) {
		lease = 0
	}
	if lease == 0 {
		g, err := r.cli.Grant(ctx, r.cfg.ttlSeconds())
		if err != nil {
			return fmt.Errorf("granting a lease: %w", err)
		}
		lease = g.ID
		r.mu.Lock()
		r.lease = lease
		r.mu.Unlock()
	}
	resp, err := r.cli.Put(ctx, r.key, r.value, clientv3.WithLease(lease))
	if err != nil {
		return fmt.Errorf("writing %q: %w", r.key, err)
	}
	r.mu.Lock()
	r.lease, r.rev = lease, resp.Header.Revision
	r.mu.Unlock()
	return nil
}

// leaseAlive reports whether lease still exists, renewing it once.
func (r *Registration) leaseAlive(ctx context.Context, lease clientv3.LeaseID) bool {
	resp, err := r.cli.KeepAliveOnce(ctx, lease)
	return err == nil && resp.TTL > 0
}

// run keeps the registration alive until Deregister.
func (r *Registration) run() {
	defer close(r.done)
	for {
		err := r.maintain()
		if r.ctx.Err() != nil {
			return
		}
		logger.Warningf("etcd: registration %s lost: %v; writing it again", r.key, err)
		r.notify(StateLost, err)
		if !r.restore() {
			return
		}
		logger.Infof("etcd: registration %s restored", r.key)
		r.notify(StateRestored, nil)
	}
}

func (r *Registration) notify(s RegistrationState, err error) {
	if r.cfg.onState != nil {
		r.cfg.onState(s, err)
	}
}

// restore writes the key again with backoff until it succeeds, and reports
// false if Deregister came first.
func (r *Registration) restore() bool {
	for attempt := 0; ; attempt++ {
		err := r.write(r.ctx, r.Lease())
		if err == nil {
			return true
		}
		if r.ctx.Err() != nil {
			return false
		}
		if logger.V(2) {
			logger.Infof("etcd: restoring %s: %v", r.key, err)
		}
		if !sleepCtx(r.ctx, r.cfg.backoff.Delay(attempt)) {
			return false
		}
	}
}

// maintain keeps the current lease alive, always draining its KeepAlive
// responses, and watches the key. It returns why the registration was lost,
// or when Deregister stops it.
func (r *Registration) maintain() error {
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	r.mu.Lock()
	lease, rev := r.lease, r.rev
	r.mu.Unlock()
	ka, err := r.cli.KeepAlive(ctx, lease)
	if err != nil {
		return fmt.Errorf("%w: %v", errLeaseLost, err)
	}
	kw := keyWatch{r: r, ctx: ctx}
	kw.start(rev)
	defer kw.stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case _, ok := <-ka:
			if !ok {
				return errLeaseLost
			}
		case resp, ok := <-kw.ch:
			if err := kw.handle(resp, ok); err != nil {
				return err
			}
		case res := <-kw.checked:
			if err := kw.checkDone(res); err != nil {
				return err
			}
		}
	}
}

// keyWatch watches the registration's key for deletion. When the watch
// itself fails it checks the key with a Get, after a backoff and on its own
// goroutine so that maintain keeps draining KeepAlive responses, and
// watches again from the revision read. Only maintain's goroutine calls its
// methods.
type keyWatch struct {
	r       *Registration
	ctx     context.Context
	cancel  context.CancelFunc
	ch      clientv3.WatchChan
	checked chan checkResult // the Get's outcome; nil while none runs
	wg      sync.WaitGroup
	attempt int
}

// checkResult is the outcome of a Get of the key.
type checkResult struct {
	rev     int64 // revision read, when the key exists
	missing bool
	err     error
}

func (kw *keyWatch) start(rev int64) {
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(kw.ctx))
	kw.cancel = cancel
	kw.ch = kw.r.cli.Watch(ctx, kw.r.key, clientv3.WithRev(rev+1))
}

// stop ends the watch and waits for a running check.
func (kw *keyWatch) stop() {
	if kw.cancel != nil {
		kw.cancel()
	}
	kw.wg.Wait()
}

// handle returns errKeyDeleted when the response deletes the key; a failed
// watch is replaced by a check of the key after a backoff.
func (kw *keyWatch) handle(resp clientv3.WatchResponse, ok bool) error {
	if err := watchErr(resp, ok); err != nil {
		kw.cancel()
		kw.ch = nil
		kw.check(kw.r.cfg.backoff.Delay(kw.attempt))
		kw.attempt++
		return nil
	}
	kw.attempt = 0
	for _, ev := range resp.Events {
		if ev.Type == clientv3.EventTypeDelete {
			return errKeyDeleted
		}
	}
	return nil
}

// check reads the key after delay, on a goroutine; the outcome arrives on
// kw.checked.
func (kw *keyWatch) check(delay time.Duration) {
	ch := make(chan checkResult, 1)
	kw.checked = ch
	kw.wg.Go(func() {
		if !sleepCtx(kw.ctx, delay) {
			return
		}
		ctx, cancel := context.WithTimeout(kw.ctx, kw.r.cfg.requestTimeout)
		defer cancel()
		resp, err := kw.r.cli.Get(ctx, kw.r.key)
		if err != nil {
			ch <- checkResult{err: err}
			return
		}
		ch <- checkResult{rev: resp.Header.Revision, missing: len(resp.Kvs) == 0}
	})
}

// checkDone acts on a check: a missing key is lost, a present one is watched
// again, and a failed check is repeated after a backoff.
func (kw *keyWatch) checkDone(res checkResult) error {
	kw.checked = nil
	switch {
	case res.err != nil:
		kw.check(kw.r.cfg.backoff.Delay(kw.attempt))
		kw.attempt++
	case res.missing:
		return errKeyDeleted
	default:
		kw.start(res.rev)
	}
	return nil
}

// Deregister stops keeping the registration alive, deletes its key (unless
// another lease took it over) and revokes its lease, retrying with backoff.
// It returns within the request timeout (WithRequestTimeout) or when ctx
// ends, whichever comes first, whatever ctx it is given, so a server's
// shutdown never hangs on an unreachable etcd; the error then says that the
// key, no longer kept alive, expires with its lease within the TTL.
//
// It is idempotent and safe to call concurrently: once it has succeeded,
// later calls return nil at once; while one call is removing the key another
// waits for it only until its own ctx or timeout ends; after a failure a
// later call tries again.
func (r *Registration) Deregister(ctx context.Context) error {
	r.mu.Lock()
	removed := r.removed
	r.mu.Unlock()
	if removed {
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
	for attempt := 0; ; attempt++ {
		err := r.remove(ctx)
		if err == nil {
			return nil
		}
		if !sleepCtx(ctx, r.cfg.backoff.Delay(attempt)) {
			return r.deregisterErr(err)
		}
	}
}

// deregisterErr says why Deregister gave up and what becomes of the key.
func (r *Registration) deregisterErr(err error) error {
	return fmt.Errorf("etcd: deregistering %s: %w; the key is no longer kept alive and expires with its lease within %v",
		r.key, err, time.Duration(r.cfg.ttlSeconds())*time.Second)
}

// remove deletes the key if it is still attached to the registration's
// lease, then revokes the lease, and records success. A lease that is
// already gone counts as revoked. Only the holder of r.removing calls it.
func (r *Registration) remove(ctx context.Context) error {
	r.mu.Lock()
	lease, removed := r.lease, r.removed
	r.mu.Unlock()
	if removed {
		return nil
	}
	_, err := r.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.LeaseValue(r.key), "=", lease)).
		Then(clientv3.OpDelete(r.key)).
		Commit()
	if err != nil {
		return err
	}
	if _, err := r.cli.Revoke(ctx, lease); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return err
	}
	r.mu.Lock()
	r.removed = true
	r.mu.Unlock()
	return nil
}

// sleepCtx waits d and reports false if ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
