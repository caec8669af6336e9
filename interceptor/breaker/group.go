package breaker

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"google.golang.org/grpc/grpclog"
)

var logger = grpclog.Component("grpckit-breaker")

// Group is a set of circuit breakers, one per key (see WithKey), created on
// first use. Its interceptors share the breakers, so a unary and a
// streaming interceptor from one Group keyed ByTarget trip together.
//
// A Group holds at most MaxKeys breakers (WithMaxKeys) and forgets a
// breaker left idle for the idle timeout (WithIdleTimeout), but only one
// whose state is what a new breaker's would be: closed, no call in flight,
// and idle for longer than the counting window, so forgetting it changes no
// answer. Open and half-open breakers are never forgotten, so the bound
// yields to them: past MaxKeys, a new key first evicts the least recently
// used closed breakers with no call in flight, and is added anyway if there
// is none.
//
// A Group is safe for concurrent use. It has no goroutines and needs no
// Close.
type Group struct {
	opts    options
	metrics *metrics

	// breakers maps a key to its *entry. Readers take no lock; mu
	// serialises creation and eviction, which also update count and
	// swept.
	breakers sync.Map
	mu       sync.Mutex
	count    int
	swept    time.Time
	nextScan int // count at which a full Group looks for victims again

	// hot is a direct-mapped cache in front of breakers, indexed by the
	// address of the key's bytes. Keys from generated code and
	// ClientConn.Target are the same string on every call, so a hit costs
	// a pointer comparison instead of hashing the key.
	hot [hotSlots]atomic.Pointer[entry]

	throttle *Throttle // WithAdaptiveThrottling: calls go through it instead
}

const hotSlots = 64

// New returns a Group configured by opts. Invalid options, nil ones
// included (named by their position), are reported here, all at once, never
// at the first call.
func New(opts ...Option) (*Group, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	g := &Group{opts: o, metrics: newMetrics(o.meterProvider), swept: time.Now()}
	if o.throttling != nil {
		if g.throttle, err = newThrottle(*o.throttling, o); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// mustNew is New for the package-level constructors, which cannot return
// an error: invalid options are a programming error found at start-up.
func mustNew(opts []Option) *Group {
	g, err := New(opts...)
	if err != nil {
		panic(err)
	}
	return g
}

// State returns the current state of the breaker for key (StateClosed for a
// key never used or forgotten). It may be called from a StateChangeFunc.
func (g *Group) State(key string) State {
	e := g.lookup(key)
	if e == nil {
		return StateClosed
	}
	s := e.stateAt(time.Now())
	e.flush(context.Background())
	return s
}

// Counts returns the counters of the breaker for key: over its window when
// closed, of its probes when half-open, zero when open. An outcome counts in
// the window current when its call ends, so Requests (calls admitted in the
// window) may be fewer than the outcomes.
func (g *Group) Counts(key string) Counts {
	e := g.lookup(key)
	if e == nil {
		return Counts{}
	}
	c := e.counts(time.Now())
	e.flush(context.Background())
	return c
}

// Keys returns the keys of the breakers the Group holds, in no order.
func (g *Group) Keys() []string {
	var keys []string
	g.breakers.Range(func(k, _ any) bool {
		keys = append(keys, k.(string))
		return true
	})
	return keys
}

func (g *Group) lookup(key string) *entry {
	if v, ok := g.breakers.Load(key); ok {
		return v.(*entry)
	}
	return nil
}

// get returns the breaker for key, creating it on first use.
func (g *Group) get(key string) *entry {
	slot := g.slot(key)
	if e := slot.Load(); e != nil && e.key == key {
		return e
	}
	e := g.lookup(key)
	if e == nil {
		e = g.create(key)
	}
	slot.Store(e)
	return e
}

func (g *Group) slot(key string) *atomic.Pointer[entry] {
	return &g.hot[uintptr(unsafe.Pointer(unsafe.StringData(key)))>>3%hotSlots]
}

// admit finds key's breaker and asks it to let a call through. A caller
// that found an entry evicted since (in the map or the hot cache) takes the
// key's entry under g.mu, where the map holds no evicted entry, and puts it
// in the hot cache in place of the evicted one.
func (g *Group) admit(key string) (*entry, ticket, error) {
	e := g.get(key)
	for {
		t, err := e.admit(time.Now())
		if err != errEvicted {
			return e, t, err
		}
		e = g.create(key)
		g.slot(key).Store(e)
	}
}

func (g *Group) create(key string) *entry {
	g.mu.Lock()
	defer g.mu.Unlock()
	if e := g.lookup(key); e != nil {
		return e
	}
	now := time.Now()
	if now.Sub(g.swept) >= g.opts.idle/2 {
		g.sweepIdleLocked(now)
	}
	if g.count >= g.opts.maxKeys && g.count >= g.nextScan {
		g.nextScan = 0
		if !g.evictOldestLocked(now) {
			// Every breaker is open, half-open or busy: look again
			// only after an eighth more keys, so a run of new keys
			// does not scan the Group each.
			g.nextScan = g.count + max(1, g.count/8)
		}
	}
	e := newEntry(g, key, now)
	g.breakers.Store(key, e)
	g.count++
	if logger.V(2) {
		logger.Infof("breaker: new breaker for %q", key)
	}
	return e
}

// sweepIdleLocked forgets every breaker at rest and idle for the idle
// timeout. It runs at most twice per idle timeout, when a key is created,
// so its cost is shared by the keys created in between.
func (g *Group) sweepIdleLocked(now time.Time) {
	g.swept = now
	g.breakers.Range(func(_, v any) bool {
		e := v.(*entry)
		if e.evictIf(now, func(idle time.Duration) bool { return idle >= g.opts.idle }) {
			g.forgetLocked(e)
		}
		return true
	})
}

// evictOldestLocked makes room for a key in a full Group: it forgets the
// least recently used eighth (at least one) of the closed breakers with no
// call in flight, so a run of new keys pays for a scan once per eighth. It
// reports whether it forgot any.
func (g *Group) evictOldestLocked(now time.Time) bool {
	type aged struct {
		e    *entry
		last time.Time
	}
	var closed []aged
	g.breakers.Range(func(_, v any) bool {
		e := v.(*entry)
		if last, ok := e.closedIdleSince(now); ok {
			closed = append(closed, aged{e, last})
		}
		return true
	})
	slices.SortFunc(closed, func(a, b aged) int { return a.last.Compare(b.last) })
	want := max(1, g.count/8)
	n := 0
	for _, c := range closed {
		if n == want {
			break
		}
		if c.e.evictIf(now, func(time.Duration) bool { return true }) {
			g.forgetLocked(c.e)
			n++
		}
	}
	return n > 0
}

// forgetLocked removes an evicted entry from the map and the hot cache.
func (g *Group) forgetLocked(e *entry) {
	g.breakers.CompareAndDelete(e.key, e)
	g.count--
	for i := range g.hot {
		g.hot[i].CompareAndSwap(e, nil)
	}
	if logger.V(2) {
		logger.Infof("breaker: forgot the breaker for %q", e.key)
	}
}

// entry is one key's breaker and its queue of state changes not yet
// delivered. Lock order: mu before qmu.
type entry struct {
	g   *Group
	key string

	mu       sync.Mutex // guards the breaker below
	state    State
	epoch    uint64    // incremented by every state change
	expiry   time.Time // when an open breaker turns half-open
	win      window    // the closed state's counts
	probes   Counts    // the half-open state's counts
	inflight int       // admitted calls not yet done
	lastUse  time.Time
	evicted  bool

	qmu      sync.Mutex // guards changes; never held while calling out
	changes  []change
	pending  atomic.Int32 // len(changes), read without qmu on every call
	draining atomic.Bool  // one goroutine delivers at a time
}

// change is a state change recorded under the breaker's lock.
type change struct{ from, to State }

func newEntry(g *Group, key string, now time.Time) *entry {
	e := &entry{g: g, key: key, lastUse: now}
	e.win = newWindow(g.opts.interval, g.opts.bucketPeriod)
	e.win.reset(now)
	return e
}

// closedIdleSince reports when e was last used if it is closed with no call
// in flight.
func (e *entry) closedIdleSince(now time.Time) (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.currentLocked(now)
	return e.lastUse, e.state == StateClosed && e.inflight == 0 && !e.evicted
}

// evictIf marks e evicted if it is closed, has no call in flight, and ok
// accepts how long it has been idle. An idle timeout at least as long as
// the window leaves no count that could still matter.
func (e *entry) evictIf(now time.Time, ok func(idle time.Duration) bool) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.currentLocked(now)
	idle := now.Sub(e.lastUse)
	if e.evicted || e.state != StateClosed || e.inflight != 0 || !ok(idle) {
		return false
	}
	e.evicted = true
	return true
}
