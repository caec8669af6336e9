package resolver

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/resolver"
)

var logger = grpclog.Component("grpckit-resolver")

// Endpoints turns instances into resolver endpoints sorted by address, each
// carrying its Instance (SetInstance). When two instances share an address the
// one with the smaller ID wins and the other is logged and dropped: one
// backend must not take a double share because it was registered twice.
func Endpoints(insts []Instance) []resolver.Endpoint {
	sorted := slices.Clone(insts)
	slices.SortFunc(sorted, byAddr)
	eps := make([]resolver.Endpoint, 0, len(sorted))
	for i, inst := range sorted {
		if i > 0 && sorted[i-1].Addr == inst.Addr {
			logger.Warningf("grpckit/resolver: %s: address already served by instance %q, skipped", inst, sorted[i-1].ID)
			continue
		}
		ep := resolver.Endpoint{Addresses: []resolver.Address{{Addr: inst.Addr}}}
		eps = append(eps, SetInstance(ep, inst))
	}
	return eps
}

// byAddr orders instances by address, then by ID: the order of Endpoints and
// of a snapshot file.
func byAddr(a, b Instance) int {
	return cmp.Or(cmp.Compare(a.Addr, b.Addr), cmp.Compare(a.ID, b.ID))
}

// Publisher publishes a registry's instance sets to a resolver.ClientConn with
// the rules both backends share:
//
//   - Publish and PublishEndpoints are for the registry's authoritative
//     answer, which may be empty: an empty set makes RPCs fail fast with
//     Unavailable instead of hanging.
//   - Fail is for errors. Before the first answer it reports the error to the
//     channel (RPCs fail with it); afterwards it only logs, and the channel
//     keeps serving the last good set. An error never publishes an empty set.
//
// With a Snapshot it also keeps the target's last good set in that file and,
// at start-up, serves that set while the registry has not answered:
//
//   - Every set the channel accepts from Publish or PublishEndpoints is saved
//     in the snapshot, and so is every empty set, which the registry said
//     authoritatively even when the balancer rejects it (most do), by a goroutine of its own so that the file system
//     never delays the next update; during a burst of changes only the newest
//     set waiting is written. A failed write is logged (rate-limited) and
//     changes nothing else; the next touch writes that set again.
//   - While the registry answers (a set was saved since the last Fail), the
//     snapshot is touched (Snapshot.Touch) every quarter of its maximum age,
//     at most hourly, so that its age counts from about the last time this
//     client saw the registry work, not from the last change of the set.
//   - Until the registry's first answer, the snapshot is loaded once, on the
//     first Fail or SnapshotGrace after construction, whichever comes first.
//     If it holds instances they are published, with the state marked (see
//     IsStale), and the error is not reported to the channel. A missing file
//     is the normal first start; a broken one, or one older than the
//     snapshot's maximum age, is logged and ignored; a snapshot of no
//     instances (the registry's last answer was empty) serves nothing.
//   - The registry's first answer replaces the snapshot's set, even when the
//     answer is empty, and a snapshot is never served after it.
//
// A Publisher is safe for concurrent use; Close it when the resolver closes,
// after the last Publish.
type Publisher struct {
	cc        resolver.ClientConn
	snap      *Snapshot // nil for none
	grace     time.Duration
	timer     *time.Timer
	timerDone chan struct{}  // closed when the grace timer's function returns
	touch     *time.Timer    // touches the snapshot while healthy; set and reset under mu
	touches   sync.WaitGroup // touches running; Close waits for them

	// mu is held across every call into cc, so that a snapshot served by the
	// grace timer can never land after a registry answer. grpc-go's
	// ClientConn never calls back into the resolver from UpdateState or
	// ReportError, so this cannot deadlock.
	mu       sync.Mutex
	answered bool // a registry answer was published
	healthy  bool // a set was saved since the last Fail
	stale    bool // the snapshot's set is in service
	loaded   bool // the snapshot was read
	closed   bool

	// wmu guards the write queue; it is never held together with mu.
	wmu     sync.Mutex
	pending []Instance // the newest set not yet written
	queued  bool       // pending is to be written
	writing bool       // a writer goroutine runs
	writers sync.WaitGroup
}

// ErrorObserver is implemented by a resolver.ClientConn that wants to hear
// of the registry errors its channel is not told of. After the registry's
// first answer (or while a snapshot is served) an error changes nothing for
// the channel, which keeps the instances it has, so the resolver only logs
// it; a wrapper of the channel's ClientConn (a debug page, metrics) that
// implements ErrorObserver is told of each such error instead of missing
// the outage. RegistryError is called with the resolver's locks held: it
// must return quickly and must not call back into the resolver or the
// channel.
type ErrorObserver interface {
	RegistryError(err error)
}

// NewPublisher returns a Publisher for cc keeping its sets in snap, which may
// be nil for none.
func NewPublisher(cc resolver.ClientConn, snap *Snapshot) *Publisher {
	return newPublisher(cc, snap, SnapshotGrace)
}

func newPublisher(cc resolver.ClientConn, snap *Snapshot, grace time.Duration) *Publisher {
	p := &Publisher{cc: cc, snap: snap, grace: grace}
	if snap != nil {
		p.timerDone = make(chan struct{})
		p.timer = time.AfterFunc(grace, p.graceExpired)
		p.mu.Lock() // touchSnapshot reads p.touch
		p.touch = time.AfterFunc(touchInterval(snap.maxAge), p.touchSnapshot)
		p.mu.Unlock()
	}
	return p
}

// touchSnapshot touches the snapshot if the registry answers, and arms the
// next touch.
func (p *Publisher) touchSnapshot() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.touches.Add(1)
	defer p.touches.Done()
	healthy := p.healthy
	p.mu.Unlock()
	if healthy {
		if err := p.snap.Touch(); err != nil {
			p.snap.warnSaveFailed(err)
		}
	}
	p.mu.Lock()
	if !p.closed {
		p.touch.Reset(touchInterval(p.snap.maxAge))
	}
	p.mu.Unlock()
}

// Publish replaces the channel's endpoints with insts, the registry's answer,
// and saves them in the snapshot if the channel accepts them or they are
// none. It returns the
// error of cc.UpdateState; a non-nil error means the channel rejected the
// state and the caller should resolve again after a backoff.
func (p *Publisher) Publish(insts []Instance) error {
	p.mu.Lock()
	p.answeredLocked(len(insts))
	err := p.cc.UpdateState(resolver.State{Endpoints: Endpoints(insts)})
	saving := (err == nil || len(insts) == 0) && p.snap != nil
	p.healthy = p.healthy || saving
	p.mu.Unlock()
	if saving {
		p.save(slices.Clone(insts)) // the caller may reuse insts
	}
	return err
}

// PublishEndpoints publishes endpoints that a backend maintains itself,
// sorted and carrying their Instances (see Endpoints), as the registry's
// answer, and saves their Instances in the snapshot if the channel accepts
// them or they are none. It returns the error of cc.UpdateState, as Publish does.
func (p *Publisher) PublishEndpoints(eps []resolver.Endpoint) error {
	p.mu.Lock()
	p.answeredLocked(len(eps))
	err := p.cc.UpdateState(resolver.State{Endpoints: eps})
	saving := (err == nil || len(eps) == 0) && p.snap != nil
	p.healthy = p.healthy || saving
	p.mu.Unlock()
	if saving {
		insts := make([]Instance, 0, len(eps))
		for _, ep := range eps {
			if inst, ok := InstanceFrom(ep); ok {
				insts = append(insts, inst)
			}
		}
		p.save(insts)
	}
	return err
}

// answeredLocked records that the registry answered, ends the grace timer
// and says when its answer replaces the snapshot's set.
func (p *Publisher) answeredLocked(n int) {
	if p.answered {
		return
	}
	p.answered = true
	if p.timer != nil && p.timer.Stop() {
		p.timer = nil
	}
	if p.stale {
		p.stale = false
		logger.Infof("grpckit/resolver: %s: the registry answered; its %d instances replace the snapshot's", p.snap.target, n)
	}
}

// save queues insts for writing to the snapshot, and starts a writer unless
// one runs.
func (p *Publisher) save(insts []Instance) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	p.pending, p.queued = insts, true
	if !p.writing {
		p.writing = true
		p.writers.Add(1)
		go p.write()
	}
}

// write writes the queued sets until none is left.
func (p *Publisher) write() {
	defer p.writers.Done()
	for {
		p.wmu.Lock()
		insts, queued := p.pending, p.queued
		p.pending, p.queued = nil, false
		p.writing = queued
		p.wmu.Unlock()
		if !queued {
			return
		}
		if err := p.snap.Save(insts); err != nil {
			p.snap.warnSaveFailed(err)
		}
	}
}

// Fail handles a registry error and reports whether it reported err to the
// channel. After the registry's first answer, or while the snapshot's set is
// in service, it only logs and that set stays. Before, it serves the
// snapshot if there is one, and else reports err.
func (p *Publisher) Fail(err error) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.healthy = false
	if p.answered || p.stale {
		what := "the last good instances"
		if p.stale {
			what = "the snapshot's instances"
		}
		logger.Warningf("grpckit/resolver: keeping %s: %v", what, err)
		p.observeLocked(err)
		return false
	}
	if p.serveLocked(err.Error()) {
		return false
	}
	p.cc.ReportError(err)
	return true
}

// Observe tells cc of err if it is an ErrorObserver, and does nothing else:
// for a registry error that the caller logs once for many channels and
// that changes nothing for this one.
func (p *Publisher) Observe(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.observeLocked(err)
}

func (p *Publisher) observeLocked(err error) {
	if o, ok := p.cc.(ErrorObserver); ok && !p.closed {
		o.RegistryError(err)
	}
}

// Published reports whether a registry answer was published; a snapshot
// served in its place does not count.
func (p *Publisher) Published() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.answered
}

// Stale reports whether the snapshot's set is in service, the registry not
// having answered yet.
func (p *Publisher) Stale() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stale
}

// Close stops the grace timer, waiting for it if it is serving the snapshot,
// stops touching the snapshot and waits for the queued writes. Nothing is
// published or written after Close returns.
func (p *Publisher) Close() {
	defer p.flush()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	t := p.timer
	p.timer = nil
	p.mu.Unlock()
	if p.touch != nil {
		p.touch.Stop()
		p.touches.Wait() // a touch that began before closed was set
	}
	if t != nil && !t.Stop() {
		<-p.timerDone
	}
}

// flush waits until the queued writes are done; the caller must not publish
// meanwhile.
func (p *Publisher) flush() { p.writers.Wait() }

// graceExpired serves the snapshot if the registry has not answered within
// the grace.
func (p *Publisher) graceExpired() {
	defer close(p.timerDone)
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.answered && !p.stale {
		p.serveLocked(fmt.Sprintf("no answer within %v", p.grace))
	}
}

// serveLocked publishes the snapshot's set, marked stale, and reports
// whether it did. The snapshot is read at most once.
func (p *Publisher) serveLocked(reason string) bool {
	if p.snap == nil || p.loaded || p.closed {
		return false
	}
	p.loaded = true
	insts, saved, err := p.snap.Load()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if logger.V(2) {
			logger.Infof("grpckit/resolver: %s: no snapshot to serve yet", p.snap.target)
		}
		return false
	case err != nil:
		logger.Warningf("grpckit/resolver: %s: ignoring the snapshot: %v", p.snap.target, err)
		return false
	case len(insts) == 0:
		logger.Infof("grpckit/resolver: %s: the snapshot holds no instances; nothing to serve", p.snap.target)
		return false
	}
	if err := p.cc.UpdateState(setStale(resolver.State{Endpoints: Endpoints(insts)})); err != nil {
		logger.Warningf("grpckit/resolver: %s: the channel rejected the snapshot: %v", p.snap.target, err)
		return false
	}
	p.stale = true
	logger.Warningf("grpckit/resolver: %s: the registry has not answered (%s); serving %d instances from the snapshot saved %v ago, marked stale",
		p.snap.target, reason, len(insts), p.snap.now().Sub(saved).Round(time.Second))
	return true
}
