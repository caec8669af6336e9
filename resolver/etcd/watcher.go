package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/resolver"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// errWatchClosed is returned when etcd's watch channel closes while the
// resolver still runs.
var errWatchClosed = errors.New("etcd: watch channel closed")

// badValueLogInterval spaces the log lines about undecodable values.
const badValueLogInterval = 10 * time.Second

// watcher is the resolver of one etcd:///<service> target. It lists the
// service's keys at a linearizable revision, publishes them, then applies the
// watch events from the next revision on, one by one. Any watch failure
// (error, cancellation, compaction, closed channel) leads to a fresh list
// after a backoff; meanwhile the channel keeps the last published set.
//
// Only the run goroutine touches set, badLog's state aside, and the retry
// timer; ResolveNow and Close may be called from any goroutine.
//
// ResolveNow does not shorten a backoff: see its doc.
type watcher struct {
	cli     *clientv3.Client
	cfg     config
	service string
	key     string // <prefix><service>/
	pub     *kitresolver.Publisher
	set     *instanceSet
	badLog  *logLimiter

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	republish     *time.Timer  // pending retry of a rejected UpdateState
	publishErrors int          // consecutive rejected UpdateStates
	lists         atomic.Int64 // lists that succeeded
	listAttempts  atomic.Int64
}

// newWatcher returns the resolver of service; snap, if not nil, keeps its
// last good set.
func newWatcher(cli *clientv3.Client, cfg config, service string, cc resolver.ClientConn, snap *kitresolver.Snapshot) *watcher {
	ctx, cancel := context.WithCancel(context.Background())
	return &watcher{
		cli: cli, cfg: cfg, service: service, key: cfg.serviceKey(service),
		pub: kitresolver.NewPublisher(cc, snap), set: newInstanceSet(),
		badLog: newLogLimiter(badValueLogInterval),
		ctx:    ctx, cancel: cancel,
	}
}

func (w *watcher) start() {
	w.wg.Add(1)
	go w.run()
}

// ResolveNow does nothing, and never blocks. While the watch is healthy the
// set is current. After a registry error the next list waits its backoff
// step whatever ResolveNow says, so the service is listed at most once per
// step, as grpc-go's DNS resolver does during its backoff: gRPC calls
// ResolveNow on every failed connection, and honouring it would re-list many
// times a second exactly when etcd and the backends fail together.
func (w *watcher) ResolveNow(resolver.ResolveNowOptions) {}

// Close stops the watch and waits for the resolver's goroutines to exit.
func (w *watcher) Close() {
	w.cancel()
	w.wg.Wait()
	w.pub.Close()
}

func (w *watcher) run() {
	defer w.wg.Done()
	defer w.stopRepublish()
	attempt := 0
	for {
		established, err := w.syncOnce()
		if w.ctx.Err() != nil {
			return
		}
		if established {
			attempt = 0
		}
		w.fail(err)
		if !w.sleep(w.cfg.backoff.Delay(attempt)) {
			return
		}
		attempt++
	}
}

// syncOnce lists the service and watches it until the watch fails. It
// reports whether the watch was established, which resets the backoff.
func (w *watcher) syncOnce() (established bool, err error) {
	rev, err := w.list()
	if err != nil {
		return false, err
	}
	return w.watch(rev)
}

// fail reports err through the publisher: to the channel when nothing was
// ever published, else only to the log.
func (w *watcher) fail(err error) {
	err = fmt.Errorf("etcd: resolving %q: %w", w.key, err)
	if w.pub.Fail(err) {
		logger.Warningf("%v", err)
	}
}

// sleep waits d and reports false when closed first.
func (w *watcher) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-w.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// list reads every key of the service at a linearizable revision, replaces
// the whole set and publishes it. It returns the revision read.
func (w *watcher) list() (int64, error) {
	ctx, cancel := context.WithTimeout(w.ctx, w.cfg.requestTimeout)
	defer cancel()
	w.listAttempts.Add(1)
	resp, err := w.cli.Get(ctx, w.key, clientv3.WithPrefix())
	if err != nil {
		return 0, err
	}
	w.lists.Add(1)
	insts := make([]kitresolver.Instance, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		if inst, ok := w.decode(kv); ok {
			insts = append(insts, inst)
		}
	}
	w.set.reset(insts)
	if logger.V(2) {
		logger.Infof("etcd: %q: %d instances at revision %d", w.key, len(insts), resp.Header.Revision)
	}
	w.published(len(insts), w.pub.Publish(insts))
	return resp.Header.Revision, nil
}

// decode returns the instance a key-value describes. A bad value is logged;
// if the key held a good instance before, that instance is kept.
func (w *watcher) decode(kv *mvccpb.KeyValue) (kitresolver.Instance, bool) {
	key := string(kv.Key)
	id := strings.TrimPrefix(key, w.key)
	inst, err := w.decodeKV(id, kv.Value)
	if err == nil {
		return inst, true
	}
	old, had := w.set.byID[id]
	w.badLog.warningf("etcd: skipping key %q: %v (keeping its last good instance: %t)", key, err, had)
	return old, had
}

func (w *watcher) decodeKV(id string, value []byte) (kitresolver.Instance, error) {
	if id == "" {
		return kitresolver.Instance{}, errors.New("etcd: key has no instance id")
	}
	return decodeValue(w.service, id, value)
}

// watch applies the events after rev until the watch fails.
func (w *watcher) watch(rev int64) (established bool, err error) {
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(w.ctx))
	defer cancel()
	wch := w.cli.Watch(ctx, w.key, clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithCreatedNotify())
	for {
		select {
		case <-w.ctx.Done():
			return established, w.ctx.Err()
		case <-w.republishC():
			w.republish = nil
			w.publishSet()
		case resp, ok := <-wch:
			if err := watchErr(resp, ok); err != nil {
				return established, err
			}
			established = true
			if w.apply(resp.Events) {
				w.publishSet()
			}
		}
	}
}

// watchErr returns why a watch response ends the watch, or nil.
func watchErr(resp clientv3.WatchResponse, ok bool) error {
	switch {
	case !ok:
		return errWatchClosed
	case resp.Err() != nil:
		return resp.Err()
	case resp.Canceled:
		return errors.New("etcd: watch canceled by the server")
	}
	return nil
}

// apply applies events to the set and reports whether the endpoints changed.
func (w *watcher) apply(events []*clientv3.Event) bool {
	changed := false
	for _, ev := range events {
		if w.applyOne(ev) {
			changed = true
		}
	}
	return changed
}

func (w *watcher) applyOne(ev *clientv3.Event) bool {
	if ev.Type == clientv3.EventTypeDelete {
		return w.set.remove(strings.TrimPrefix(string(ev.Kv.Key), w.key))
	}
	inst, ok := w.decode(ev.Kv)
	if !ok {
		return false
	}
	changed := w.set.put(inst)
	if cands := w.set.byAddr[inst.Addr]; len(cands) > 1 {
		w.badLog.warningf("etcd: %s: address %s is registered %d times; serving instance %q", w.key, inst.Addr, len(cands), cands[0].ID)
	}
	return changed
}

// publishSet publishes the current set after an incremental change.
func (w *watcher) publishSet() {
	eps := w.set.endpoints()
	if logger.V(2) {
		logger.Infof("etcd: %q: publishing %d endpoints", w.key, len(eps))
	}
	w.published(len(eps), w.pub.PublishEndpoints(eps))
}

// published handles the result of UpdateState for a set of n endpoints: a
// rejected non-empty state is offered again after a backoff, unless a newer
// one is published first. A rejected empty state is accepted as it is: the
// balancer is saying it has nothing to pick from (grpc-go's policies answer
// balancer.ErrBadResolverState), not that the set is wrong, and offering it
// again would change nothing but wake the balancer on every backoff step
// for as long as the service stays empty.
func (w *watcher) published(n int, err error) {
	w.stopRepublish()
	if err == nil || n == 0 {
		w.publishErrors = 0
		if err != nil && logger.V(2) {
			logger.Infof("etcd: %q: the channel has the empty set (its balancer answered: %v)", w.key, err)
		}
		return
	}
	if logger.V(2) {
		logger.Infof("etcd: %q: channel rejected the state: %v", w.key, err)
	}
	w.republish = time.NewTimer(w.cfg.backoff.Delay(w.publishErrors))
	w.publishErrors++
}

func (w *watcher) republishC() <-chan time.Time {
	if w.republish == nil {
		return nil
	}
	return w.republish.C
}

func (w *watcher) stopRepublish() {
	if w.republish != nil {
		w.republish.Stop()
		w.republish = nil
	}
}
