package watchshare

import (
	"sync"
	"time"

	"google.golang.org/grpc/resolver"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// Group holds the running watches of one builder, one per key. The zero
// value is ready to use; a Group is safe for concurrent use.
type Group[K comparable] struct {
	mu      sync.Mutex
	watches map[K]*Hub
}

// Join subscribes cc, one channel, to the watch of key, through a
// kitresolver.Publisher of its own. snap is the snapshot of key, or nil for
// none: the channels of one watch share the first one's, so that a set is
// written once, not once per channel. If no watch of key runs, start is
// called (with the Group's lock held, so it must not block) to start one
// publishing to the given Hub; it returns the function that stops that
// watch and waits for its goroutines. retry spaces the offers of a state the
// channel rejected.
//
// Join delivers the watch's current state to cc before it returns. Close
// the Member when the channel's resolver closes.
func (g *Group[K]) Join(key K, cc resolver.ClientConn, snap *kitresolver.Snapshot, retry kitresolver.Backoff, start func(*Hub) (stop func())) *Member {
	g.mu.Lock()
	h := g.watches[key]
	if h == nil {
		h = &Hub{members: map[*Member]struct{}{}, snap: snap}
		h.stop = start(h)
		if g.watches == nil {
			g.watches = map[K]*Hub{}
		}
		g.watches[key] = h
	}
	m := &Member{pub: kitresolver.NewPublisher(cc, h.snap), quiet: h.snap == nil, retry: retry, hub: h}
	h.mu.Lock()
	h.members[m] = struct{}{}
	states := []*state{h.answer, h.failure}
	h.mu.Unlock()
	m.leave = func() { g.leave(key, h, m) }
	g.mu.Unlock()
	for _, s := range states {
		if s != nil {
			m.deliver(s)
		}
	}
	return m
}

// leave removes m from h, and stops h's watch when m was its last member.
func (g *Group[K]) leave(key K, h *Hub, m *Member) {
	g.mu.Lock()
	h.mu.Lock()
	delete(h.members, m)
	last := len(h.members) == 0
	h.mu.Unlock()
	if last {
		delete(g.watches, key)
	}
	g.mu.Unlock()
	if last {
		h.stop()
	}
}

// Watches returns how many watches run.
func (g *Group[K]) Watches() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.watches)
}

// state is one thing a watch said: an answer (eps, possibly empty) or a
// failure (err). States are immutable once made.
type state struct {
	seq int64
	eps []resolver.Endpoint // the answer, sorted and carrying Instances
	err error               // non-nil for a failure
}

// Hub is what one watch publishes to. Its methods are called by the watch's
// goroutine; they deliver to every member before they return.
type Hub struct {
	// Watch is the watch publishing to the hub, for its owner's use: set
	// by the start function given to Join, read-only afterwards.
	Watch any

	stop func()
	snap *kitresolver.Snapshot // shared by the members; nil for none

	mu      sync.Mutex
	seq     int64
	members map[*Member]struct{}
	answer  *state // the newest answer; nil before the first
	failure *state // a failure since that answer; nil if none
}

// Publish delivers the registry's answer, the endpoints eps (which may be
// empty), to every member. eps is shared by every channel: neither the
// caller nor anyone else may modify it afterwards.
func (h *Hub) Publish(eps []resolver.Endpoint) {
	h.mu.Lock()
	h.seq++
	s := &state{seq: h.seq, eps: eps}
	h.answer, h.failure = s, nil
	members := h.membersLocked()
	h.mu.Unlock()
	for _, m := range members {
		m.deliver(s)
	}
}

// Fail delivers a registry error to every member (see
// kitresolver.Publisher.Fail) and reports whether one of them reported it
// to its channel, which happens only before the first answer. After the
// first answer, members without a snapshot have nothing to do with an error
// but log it, once per channel: they are skipped, and the caller logs it
// once for all.
func (h *Hub) Fail(err error) bool {
	h.mu.Lock()
	h.seq++
	s := &state{seq: h.seq, err: err}
	h.failure = s
	members := h.membersLocked()
	h.mu.Unlock()
	reported := false
	for _, m := range members {
		if m.deliver(s) {
			reported = true
		}
	}
	return reported
}

// Answered reports whether the watch has published an answer.
func (h *Hub) Answered() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.answer != nil
}

// Stale reports whether some member's channel is served its snapshot, the
// registry not having answered it yet.
func (h *Hub) Stale() bool {
	h.mu.Lock()
	members := h.membersLocked()
	h.mu.Unlock()
	for _, m := range members {
		if m.pub.Stale() {
			return true
		}
	}
	return false
}

func (h *Hub) membersLocked() []*Member {
	out := make([]*Member, 0, len(h.members))
	for m := range h.members {
		out = append(out, m)
	}
	return out
}

// Member is one channel's subscription to a shared watch.
type Member struct {
	pub   *kitresolver.Publisher
	quiet bool // no snapshot: after an answer, errors change nothing
	retry kitresolver.Backoff
	hub   *Hub
	leave func()
	once  sync.Once

	mu      sync.Mutex // held across calls into pub
	closed  bool
	seq     int64          // newest state delivered
	last    *state         // newest answer delivered
	rejects int            // consecutive rejected answers
	timer   *time.Timer    // offers last again; set under mu
	timers  sync.WaitGroup // retry functions armed and not stopped
}

// Hub returns the hub of the member's watch.
func (m *Member) Hub() *Hub { return m.hub }

// deliver hands s to the channel unless it already has a newer state, and
// reports whether a failure was reported to the channel.
func (m *Member) deliver(s *state) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || s.seq <= m.seq {
		return false
	}
	m.seq = s.seq
	if s.err != nil {
		if m.quiet && m.last != nil {
			m.pub.Observe(s.err) // logged once for all by the caller
			return false
		}
		return m.pub.Fail(s.err)
	}
	m.last = s
	m.stopRetryLocked()
	m.publishLocked()
	return false
}

// publishLocked offers the newest answer to the channel. A rejected
// non-empty answer is offered again after a backoff, unless a newer state
// comes first. A rejected empty one is left as it is: the balancer is saying
// it has nothing to pick from (grpc-go's policies answer
// balancer.ErrBadResolverState), and offering it again would change nothing.
func (m *Member) publishLocked() {
	err := m.pub.PublishEndpoints(m.last.eps)
	if err == nil || len(m.last.eps) == 0 {
		m.rejects = 0
		return
	}
	d := m.retry.Delay(m.rejects)
	m.rejects++
	m.timers.Add(1)
	m.timer = time.AfterFunc(d, m.offerAgain)
}

func (m *Member) offerAgain() {
	defer m.timers.Done()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.timer = nil
	if !m.closed {
		m.publishLocked()
	}
}

func (m *Member) stopRetryLocked() {
	if m.timer != nil && m.timer.Stop() {
		m.timers.Done()
	}
	m.timer = nil
}

// ResolveNow does nothing: the shared watch keeps the set current, and after
// a registry error it reads the registry again on its own backoff, whatever
// any channel asks.
func (m *Member) ResolveNow(resolver.ResolveNowOptions) {}

// Close unsubscribes the channel, stopping the watch if it was the last
// one to share it, and returns once nothing is published to the channel any
// more and every goroutine the member (or the stopped watch) started ended.
func (m *Member) Close() {
	m.once.Do(func() {
		m.mu.Lock()
		m.closed = true
		m.stopRetryLocked()
		m.mu.Unlock()
		m.timers.Wait()
		m.leave()
		m.pub.Close()
	})
}
