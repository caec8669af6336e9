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

	"github.com/grpckit/grpckit/internal/relist"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/internal/watchshare"
)

// errWatchClosed is returned when etcd's watch channel closes while the
// resolver still runs.
var errWatchClosed = errors.New("etcd: watch channel closed")

// badValueLogInterval spaces the log lines about undecodable values.
const badValueLogInterval = 10 * time.Second

// watcher is the watch of one service, shared by every channel of the
// builder that resolves etcd:///<service> (see watchshare). It lists the
// service's keys at a linearizable revision, publishes them, then applies the
// watch events from the next revision on, one by one. Any watch failure
// (error, cancellation, compaction, closed channel) leads to a fresh list
// after a backoff (relist.Delay); meanwhile the channels keep the
// last published set.
//
// Only the run goroutine touches set, badLog's state aside; stop may be
// called from any goroutine.
//
// No channel's ResolveNow shortens a backoff (see watchshare.Member): the
// service is listed at most once per backoff step, as grpc-go's DNS
// resolver does during its backoff. gRPC calls ResolveNow on every failed
// connection, and honouring it would re-list many times a second exactly
// when etcd and the backends fail together.
type watcher struct {
	cli     *clientv3.Client
	cfg     config
	service string
	key     string // <prefix><service>/
	hub     *watchshare.Hub
	set     *instanceSet
	badLog  *logLimiter

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	lists        atomic.Int64 // lists that succeeded
	listAttempts atomic.Int64

	// Recovery grace (run goroutine only): after a watch failure, the next
	// successful list opens a window of cfg.recoveryGrace during which an
	// empty set is held back while registrars write their keys again.
	recovering bool      // a failure happened since the last list
	holdUntil  time.Time // end of the window; zero when none
	held       bool      // an empty set is being held back
	served     int       // endpoints in the last set published
}

// newWatcher returns the watch of service, publishing to hub.
func newWatcher(cli *clientv3.Client, cfg config, service string, hub *watchshare.Hub) *watcher {
	ctx, cancel := context.WithCancel(context.Background())
	return &watcher{
		cli: cli, cfg: cfg, service: service, key: cfg.serviceKey(service),
		hub: hub, set: newInstanceSet(),
		badLog: newLogLimiter(badValueLogInterval),
		ctx:    ctx, cancel: cancel,
	}
}

func (w *watcher) start() {
	w.wg.Add(1)
	go w.run()
}

// stop ends the watch and waits for its goroutine to exit.
func (w *watcher) stop() {
	w.cancel()
	w.wg.Wait()
}

func (w *watcher) run() {
	defer w.wg.Done()
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
		w.recovering = true
		if !w.sleep(relist.Delay(w.cfg.backoff, attempt)) {
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

// fail reports err to the channels: those that have no set yet get it,
// the others keep their set. It is logged once, however many channels
// share the watch.
func (w *watcher) fail(err error) {
	err = fmt.Errorf("etcd: resolving %q: %w", w.key, err)
	if w.hub.Fail(err) {
		logger.Warningf("%v", err)
		return
	}
	logger.Warningf("%v; the channels keep the last good instances", err)
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
	if w.recovering {
		w.recovering = false
		w.holdUntil = time.Now().Add(w.cfg.recoveryGrace)
	}
	if logger.V(2) {
		logger.Infof("etcd: %q: %d instances at revision %d", w.key, len(insts), resp.Header.Revision)
	}
	w.publishSet()
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
	grace := newGraceTimer()
	defer grace.stop()
	for {
		grace.arm(w.held, w.holdUntil)
		select {
		case <-w.ctx.Done():
			return established, w.ctx.Err()
		case <-grace.c():
			w.holdUntil = time.Time{}
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

// publishSet publishes the current set to every channel, unless it is
// empty within the recovery grace after an outage: then the channels keep
// their last set until an instance is back or the grace ends.
func (w *watcher) publishSet() {
	eps := w.set.endpoints()
	w.held = len(eps) == 0 && w.served > 0 && time.Now().Before(w.holdUntil)
	if w.held {
		logger.Infof("etcd: %q: no instances right after an outage; keeping the last %d until %v while registrars register again",
			w.key, w.served, w.holdUntil.Format(time.RFC3339Nano))
		return
	}
	if logger.V(2) {
		logger.Infof("etcd: %q: publishing %d endpoints", w.key, len(eps))
	}
	w.served = len(eps)
	w.hub.Publish(eps)
}

// graceTimer fires when a held-back empty set's recovery grace ends.
type graceTimer struct {
	t     *time.Timer
	armed time.Time // the deadline t is set for; zero when not armed
}

func newGraceTimer() *graceTimer { return &graceTimer{} }

// arm sets the timer for until while held, and disarms it otherwise.
func (g *graceTimer) arm(held bool, until time.Time) {
	switch {
	case !held:
		g.stop()
	case !g.armed.Equal(until):
		g.stop()
		g.t, g.armed = time.NewTimer(time.Until(until)), until
	}
}

// c returns the timer's channel, nil (never ready) when not armed.
func (g *graceTimer) c() <-chan time.Time {
	if g.t == nil {
		return nil
	}
	return g.t.C
}

func (g *graceTimer) stop() {
	if g.t != nil {
		g.t.Stop()
	}
	g.t, g.armed = nil, time.Time{}
}
