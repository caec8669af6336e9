package consul

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/internal/relist"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/internal/watchshare"
)

// watcher is the watch of one target, shared by every channel of the
// builder that resolves the same service with the same query (see
// shareKey): a goroutine that runs blocking health queries for the target's
// service and publishes what they return to the channels.
//
// Every field below done is owned by the run goroutine.
type watcher struct {
	cli     *agentClient                 // owned by the run goroutine until done
	rebuild func() (*agentClient, error) // a new client, reading the token file again
	hub     *watchshare.Hub
	tgt     target
	cfg     *builderConfig
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}

	index      uint64                 // X-Consul-Index to wait on; 0 for a fresh read
	last       []kitresolver.Instance // last published set
	notes      entryNotes             // entries already logged as skipped or capped
	attempt    int                    // consecutive failures
	recovering bool                   // a failure or index reset preceded this answer
	holdUntil  time.Time              // an empty answer is held back until then
	notBefore  time.Time              // the next query starts no earlier
	republish  bool                   // publish even an unchanged set

	backend atomic.Pointer[string] // the agent's backend of the last blocking query
}

// newWatcher returns the watch of tgt, publishing to hub. No channel's
// ResolveNow reaches it: blocking queries already deliver every change as it
// happens, and a failed query is retried on its own backoff.
func newWatcher(hub *watchshare.Hub, cli *agentClient, tgt target, cfg *builderConfig) *watcher {
	ctx, cancel := context.WithCancel(context.Background())
	return &watcher{
		cli: cli, hub: hub, tgt: tgt, cfg: cfg,
		ctx: ctx, cancel: cancel, done: make(chan struct{}),
	}
}

// stop stops the watcher and waits for its goroutine to exit.
func (w *watcher) stop() {
	w.cancel()
	<-w.done
	w.cli.close()
}

func (w *watcher) run() {
	defer close(w.done)
	for w.sleepUntil(w.notBefore) {
		start := time.Now()
		entries, meta, err := w.query(start)
		if w.ctx.Err() != nil {
			return
		}
		if err == nil && len(entries) == 0 && meta.ResultsFilteredByACLs {
			err = errFilteredByACLs
		}
		if err != nil {
			err = queryError(w.cli.redact, w.tgt.service, err)
			w.fail(err)
			if status.Code(err) == codes.PermissionDenied {
				w.reloadToken()
			}
			continue
		}
		w.noteBackend(meta.QueryBackend)
		w.handle(start, entries, meta.LastIndex)
	}
}

// reloadToken reads the token file again, if the token came from one, after
// the agent refused the token: token files get rotated, and the API client
// reads its file only when it is made. A new token replaces the client.
func (w *watcher) reloadToken() {
	if w.cli.tokenFile == "" || w.rebuild == nil {
		return
	}
	cli, err := w.rebuild()
	if err != nil {
		logger.Warningf("grpckit/consul: %s: reading the token file again: %v", w.tgt.service, err)
		return
	}
	if cli.token == w.cli.token {
		cli.close()
		return
	}
	old := w.cli
	w.cli = cli
	old.close()
	logger.Infof("grpckit/consul: %s: the agent refused the token; using the new token of the token file", w.tgt.service)
}

// query runs one health query, blocking on w.index when it is set.
func (w *watcher) query(now time.Time) ([]*api.ServiceEntry, *api.QueryMeta, error) {
	wait := w.waitTime(now)
	timeout := w.cfg.reqTimeout
	if w.index > 0 {
		// Consul adds up to wait/16 of jitter to a blocking query.
		timeout += wait + wait/16
	}
	ctx, cancel := context.WithTimeout(w.ctx, timeout)
	defer cancel()
	q := &api.QueryOptions{
		Datacenter: w.tgt.dc,
		AllowStale: w.tgt.stale,
		Near:       w.tgt.near,
		WaitIndex:  w.index,
		WaitTime:   wait,
	}
	return w.cli.api.Health().ServiceMultipleTags(w.tgt.service, w.tgt.tags, w.tgt.healthy, q.WithContext(ctx))
}

// waitTime is the configured wait, shortened so that a query returns when a
// held-back empty answer is due.
func (w *watcher) waitTime(now time.Time) time.Duration {
	wait := w.cfg.waitTime
	if d := w.holdUntil.Sub(now); d > 0 && d < wait {
		wait = d + time.Millisecond
	}
	return wait
}

// fail handles a failed query: report it to the channels that have no set
// yet (the others keep their last good set), back off
// (relist.Delay), and read afresh next time, since the agent may
// have restarted with lower indexes. The next answer is published even if
// the set did not change: that tells the Publishers the agent answers
// again, so they go on refreshing the snapshot's time.
func (w *watcher) fail(err error) {
	if !w.hub.Fail(err) {
		// Logged once, however many channels share the watcher.
		logger.Warningf("grpckit/consul: %s: %v; the channels keep the last good instances", w.tgt.service, err)
	}
	w.index = 0
	w.recovering = true
	w.republish = true
	w.notBefore = time.Now().Add(relist.Delay(w.cfg.backoff, w.attempt))
	w.attempt++
}

// noteBackend records, and logs when it changes, which backend the agent
// answered a blocking query from (X-Consul-Query-Backend): "streaming" (its
// materialized view, shared by every query for the service on that agent),
// "blocking-query" (a query to the servers, as for near or an agent without
// streaming), or "" for an agent that does not say. Answers to a fresh read
// (index 0) do not count: agents serve those from the servers whatever their
// backend.
func (w *watcher) noteBackend(backend string) {
	if w.index == 0 {
		return
	}
	if old := w.backend.Swap(&backend); old == nil || *old != backend {
		logger.Infof("grpckit/consul: %s: blocking queries answered by the agent's %q backend", w.tgt.service, backend)
	}
}

// handle applies Consul's index rules to a successful answer and publishes
// it if it changed.
func (w *watcher) handle(start time.Time, entries []*api.ServiceEntry, got uint64) {
	idx, advanced := nextIndex(w.index, got)
	if idx == 0 {
		w.recovering = true // the agent lost its state or its raft log
	}
	w.index = idx
	insts, notes := instancesFrom(entries, w.tgt.healthy)
	if w.tgt.near == "" {
		sortByAddr(insts)
	}
	w.logNotes(notes)
	if w.recovering {
		w.recovering = false
		w.holdUntil = start.Add(w.cfg.recoveryGrace)
	}
	published := w.publish(insts)
	if pace := start.Add(w.cfg.minInterval); (!advanced || !published) && pace.After(w.notBefore) {
		// Nothing new: make sure an agent that answers at once cannot make
		// the loop spin.
		w.notBefore = pace
	}
}

// publish sends insts to the channels if they differ from the last set, and
// reports whether it did. An empty set replacing a non-empty one (or a
// snapshot's set in service in some channel) is held back while recovering.
// A channel that rejects a non-empty set is offered it again after a
// backoff (see watchshare.Member); for an empty set the rejection is the
// balancer saying it has nothing to pick from (grpc-go's policies answer
// balancer.ErrBadResolverState), not a registry error: the channel has the
// empty set and the blocking query goes on, so the first instance to come
// back is seen at once.
func (w *watcher) publish(insts []kitresolver.Instance) bool {
	if w.hub.Answered() && !w.republish && equalInstances(insts, w.last) {
		return false
	}
	if len(insts) == 0 && (len(w.last) > 0 || w.hub.Stale()) && time.Now().Before(w.holdUntil) {
		vlogf("grpckit/consul: %s: no instances right after recovery; keeping the last set until %v", w.tgt.service, w.holdUntil.Format(time.RFC3339))
		return false
	}
	w.hub.Publish(w.endpoints(insts))
	vlogf("grpckit/consul: %s: published %d instances", w.tgt.service, len(insts))
	w.last, w.republish, w.attempt = insts, false, 0
	return true
}

// endpoints returns the endpoints of insts: sorted by address as every
// grpckit resolver publishes them, or, when the target sets near, in
// Consul's order, nearest first.
func (w *watcher) endpoints(insts []kitresolver.Instance) []resolver.Endpoint {
	if w.tgt.near == "" {
		return kitresolver.Endpoints(insts)
	}
	return orderedEndpoints(w.tgt.service, insts)
}

// logNotes logs what is newly wrong with entries (skipped, or their weight
// capped); an entry stays quiet while the same remains true of it.
func (w *watcher) logNotes(notes entryNotes) {
	for id, note := range notes {
		if w.notes[id] != note {
			logger.Warningf("grpckit/consul: %s: service instance %q: %s", w.tgt.service, id, note)
		}
	}
	w.notes = notes
}

// sleepUntil waits until t or until the watcher is closed, and reports
// whether the watcher is still open.
func (w *watcher) sleepUntil(t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return w.ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-w.ctx.Done():
		return false
	}
}

// nextIndex applies Consul's rules for the index of the next blocking query
// after an answer with index got to a query that waited on prev: an index
// that went backwards resets to 0 (a fresh read), and 0 is treated as 1 so
// the next query still blocks. Since a 0 became 1, an answer of 0 to a query
// that waited on 1 is another index 0, as an agent or proxy that always
// answers 0 gives, not a reset. next is 0 exactly when the index was reset.
// advanced reports whether the answer moved the index forward, that is
// whether it may carry new data.
func nextIndex(prev, got uint64) (next uint64, advanced bool) {
	switch {
	case got == 0 && prev <= 1:
		return 1, prev == 0
	case got < prev:
		return 0, false
	default:
		return got, got > prev
	}
}

// vlogf logs a chatty line, shown at verbosity 2 and above.
func vlogf(format string, args ...any) {
	if logger.V(2) {
		logger.Infof(format, args...)
	}
}
