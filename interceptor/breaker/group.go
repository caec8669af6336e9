package breaker

import (
	"context"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/sony/gobreaker/v2"
	"google.golang.org/grpc/grpclog"
)

var logger = grpclog.Component("grpckit-breaker")

// Group is a set of circuit breakers, one per key (see WithKey), created on
// first use and kept for the Group's lifetime. Its interceptors share the
// breakers, so a unary and a streaming interceptor from one Group keyed
// ByTarget trip together. Keys should be few (methods, targets): a Group
// never forgets one.
//
// A Group is safe for concurrent use. It has no goroutines and needs no
// Close.
type Group struct {
	opts    options
	metrics *metrics

	// breakers is a copy-on-write map read without a lock; mu serialises
	// the writers.
	breakers atomic.Pointer[map[string]*entry]
	mu       sync.Mutex

	// hot is a direct-mapped cache in front of breakers, indexed by the
	// address of the key's bytes. Keys from generated code and
	// ClientConn.Target are the same string on every call, so a hit costs
	// a pointer comparison instead of hashing the key.
	hot [hotSlots]atomic.Pointer[entry]
}

const hotSlots = 64

// New returns a Group configured by opts. Invalid options are reported
// here, all at once, never at the first call.
func New(opts ...Option) (*Group, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	g := &Group{opts: o, metrics: newMetrics(o.meterProvider)}
	g.breakers.Store(&map[string]*entry{})
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
// key never used). It may be called from a StateChangeFunc.
func (g *Group) State(key string) State {
	e := g.lookup(key)
	if e == nil {
		return StateClosed
	}
	s := e.cb.State()
	e.flush(context.Background())
	return s
}

// Counts returns the counters of the breaker for key in its current window.
func (g *Group) Counts(key string) Counts {
	if e := g.lookup(key); e != nil {
		return e.cb.Counts()
	}
	return Counts{}
}

// Keys returns the keys of the breakers created so far, in no order.
func (g *Group) Keys() []string {
	m := *g.breakers.Load()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

func (g *Group) lookup(key string) *entry {
	return (*g.breakers.Load())[key]
}

// get returns the breaker for key, creating it on first use.
func (g *Group) get(key string) *entry {
	slot := &g.hot[uintptr(unsafe.Pointer(unsafe.StringData(key)))>>3%hotSlots]
	if e := slot.Load(); e != nil && e.key == key {
		return e
	}
	return g.getSlow(key, slot)
}

func (g *Group) getSlow(key string, slot *atomic.Pointer[entry]) *entry {
	e := g.lookup(key)
	if e == nil {
		e = g.create(key)
	}
	slot.Store(e)
	return e
}

func (g *Group) create(key string) *entry {
	g.mu.Lock()
	defer g.mu.Unlock()
	old := *g.breakers.Load()
	if e, ok := old[key]; ok {
		return e
	}
	e := newEntry(g, key)
	m := make(map[string]*entry, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[key] = e
	g.breakers.Store(&m)
	if logger.V(2) {
		logger.Infof("breaker: new breaker for %q", key)
	}
	return e
}

// entry is one key's breaker and its queue of state changes not yet
// delivered.
type entry struct {
	g   *Group
	key string
	cb  *gobreaker.TwoStepCircuitBreaker[struct{}]
	cb1 *breakerT // the CircuitBreaker inside cb, for Execute; nil if unknown

	mu       sync.Mutex // guards changes; never held while calling out
	changes  []change
	pending  atomic.Int32 // len(changes), read without mu on every call
	draining atomic.Bool  // one goroutine delivers at a time
}

// change is a state change recorded under gobreaker's lock.
type change struct{ from, to State }

func newEntry(g *Group, key string) *entry {
	e := &entry{g: g, key: key}
	o := &g.opts
	e.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:          key,
		MaxRequests:   o.maxRequests,
		Interval:      o.interval,
		BucketPeriod:  o.bucketPeriod,
		Timeout:       o.openTimeout,
		ReadyToTrip:   o.readyToTrip,
		OnStateChange: e.record,
		IsExcluded:    isExcluded,
	})
	e.cb1 = innerBreaker(e.cb)
	return e
}
