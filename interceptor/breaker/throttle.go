package breaker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Adaptive throttling is the breaker mode of Google's SRE book (chapter
// "Handling Overload"): each client remembers, over a sliding window, how
// many calls it wanted to make (requests, those it refused itself
// included) and how many a backend accepted (accepts), and refuses a new
// call with probability
//
//	max(0, (requests − K·accepts) / (requests + 1))
//
// There is no open or closed state to tune: while a backend accepts more
// than 1/K of the calls nothing is refused, and past that the backend keeps
// seeing about K times what it accepts, so the client sheds the rest
// locally in proportion to how badly the backend is doing. A backend that
// fails everything still gets about one call per window (the +1), which is
// how the client learns that it has healed.

// Defaults of Throttling's zero fields.
const (
	// DefaultThrottleK is the SRE book's multiplier: a backend sees up to
	// twice the calls it accepts, so at most half of what reaches an
	// overloaded backend is wasted, and a backend that refuses fewer than
	// half of its calls (a brief blip, a few bad requests) is never
	// throttled.
	DefaultThrottleK = 2.0
	// DefaultThrottleWindow is far shorter than the SRE book's two
	// minutes, because the window sets both how long a failing backend
	// keeps its load and how long a healed one stays throttled. A backend
	// that starts failing is throttled once the accepts of the calls before
	// have left the window; one that heals is back to full load after about
	// (Window/K)·ln(R·Window/K), R being the call rate (accepts grow by a
	// factor e every Window/K, from about one per window). With a two-minute
	// window a client would keep a healed backend under-used for ten
	// minutes. Two seconds still spans hundreds of calls at the rates where
	// throttling matters (docs/PERFORMANCE.md, client overload, has the
	// measurements at 2, 5 and 10 s).
	DefaultThrottleWindow = 2 * time.Second
	// DefaultThrottleBuckets is how many steps the window slides by.
	DefaultThrottleBuckets = 10
	// DefaultThrottleMinRequests is how many requests the window must hold
	// before anything is refused, so that at a few calls a second one
	// failure does not refuse the next call half of the time.
	DefaultThrottleMinRequests = 10
)

// Throttling configures adaptive throttling (see NewThrottle). The zero
// value selects the defaults.
type Throttling struct {
	// K is the multiplier on accepts (default DefaultThrottleK); it must be
	// at least 1. Lower is more aggressive.
	K float64
	// Window is how far back requests and accepts are remembered (default
	// DefaultThrottleWindow).
	Window time.Duration
	// Buckets is how many steps the window slides by (default
	// DefaultThrottleBuckets): an outcome is forgotten between
	// Window·(1−1/Buckets) and Window after it was recorded.
	Buckets int
	// MinRequests is how many requests the window must hold before a call
	// may be refused (default DefaultThrottleMinRequests; 1 for none).
	MinRequests int
}

// maxThrottleBuckets bounds Buckets: every call reads them all.
const maxThrottleBuckets = 64

func (c Throttling) withDefaults() (Throttling, error) {
	if c.K == 0 {
		c.K = DefaultThrottleK
	}
	if c.Window == 0 {
		c.Window = DefaultThrottleWindow
	}
	if c.Buckets == 0 {
		c.Buckets = DefaultThrottleBuckets
	}
	if c.MinRequests == 0 {
		c.MinRequests = DefaultThrottleMinRequests
	}
	var errs []error
	if c.MinRequests < 0 {
		errs = append(errs, fmt.Errorf("breaker: throttling min requests %d must not be negative", c.MinRequests))
	}
	if !(c.K >= 1) || math.IsInf(c.K, 0) {
		errs = append(errs, fmt.Errorf("breaker: throttling K %v must be a finite number of at least 1", c.K))
	}
	if c.Buckets < 1 || c.Buckets > maxThrottleBuckets {
		errs = append(errs, fmt.Errorf("breaker: throttling buckets %d must be in [1, %d]", c.Buckets, maxThrottleBuckets))
	} else if c.Window < time.Duration(c.Buckets) {
		errs = append(errs, fmt.Errorf("breaker: throttling window %v must be positive and at least a nanosecond per bucket", c.Window))
	}
	return c, errors.Join(errs...)
}

// Throttle is a set of adaptive throttlers (see Throttling), one per key
// as for a Group: WithKey groups calls (ByMethod by default, ByTarget, or
// any KeyFunc). It counts outcomes exactly as a Group does (see the package
// documentation): a call that succeeded or whose error is not a failure
// (WithFailureCodes, WithIsFailure) is accepted; a failure is a request
// that was not accepted; calls that never reached a backend, failed on this
// side or were cancelled by their caller are not counted at all. A call is
// counted when it ends, request and outcome together, in the bucket current
// then (a refused call when it is refused), so calls in flight move the
// probability neither way and a long call counts however long ago it began.
// Of the
// Group's options NewThrottle honours WithKey, WithFailureCodes,
// WithIsFailure and WithMaxKeys. Those that configure the state machine,
// which a Throttle does not have, are refused, named in the error;
// WithMeterProvider is accepted and unused: a Throttle records no metrics
// (Probability reads a key's state).
//
// A refused call fails at once with codes.Unavailable and a message such as
// "breaker: /greeter.v1.Greeter/SayHello: adaptive throttling: refused
// with probability 0.83 (120 requests, 10 accepted in the last 2s)",
// without touching the network.
//
// Counting is lock-free and allocation-free: each key holds a ring of
// buckets of two atomic words. A Throttle holds at most MaxKeys keys with
// something in their window; keys whose window has emptied are forgotten
// when a new key would exceed it (when none has, they are looked for again
// only after an eighth more keys). It is safe for concurrent use, has no
// goroutines and needs no Close.
type Throttle struct {
	cfg    Throttling
	bucket time.Duration
	opts   options

	base   time.Time
	clock  func() time.Duration // time since base; tests replace it
	random func() float64       // uniform in [0, 1); tests replace it

	keys  sync.Map // key -> *throttler
	mu    sync.Mutex
	count int // guarded by mu
	// nextScan is the count at which a full Throttle looks for empty keys
	// again; scanned counts the throttlers looked at (tests read it). Both
	// guarded by mu.
	nextScan, scanned int
	hot               [hotSlots]atomic.Pointer[throttler]
}

// NewThrottle returns a Throttle configured by cfg and opts. Invalid
// settings are reported here, all at once.
func NewThrottle(cfg Throttling, opts ...Option) (*Throttle, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	if o.throttling != nil {
		return nil, errors.New("breaker: WithAdaptiveThrottling given to NewThrottle, which takes its Throttling as an argument")
	}
	if len(o.machine) > 0 {
		return nil, fmt.Errorf("breaker: NewThrottle has no open or closed state: %s cannot be given to it", strings.Join(o.machine, ", "))
	}
	return newThrottle(cfg, o)
}

func newThrottle(cfg Throttling, o options) (*Throttle, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	t := &Throttle{cfg: cfg, bucket: cfg.Window / time.Duration(cfg.Buckets), opts: o, base: time.Now(), random: rand.Float64}
	t.clock = func() time.Duration { return time.Since(t.base) }
	return t, nil
}

// Probability returns the probability with which the throttler for key
// refuses a call now, and the requests and accepts in its window.
func (t *Throttle) Probability(key string) (p float64, requests, accepts uint64) {
	v, ok := t.keys.Load(key)
	if !ok {
		return 0, 0, 0
	}
	req, acc := v.(*throttler).sums(t.epoch())
	return t.probability(req, acc), req, acc
}

// UnaryClientInterceptor returns a unary client interceptor that refuses
// calls as adaptive throttling decides. Like the Group's, it adds a
// grpc.Peer call option to learn whether the call reached a backend.
func (t *Throttle) UnaryClientInterceptor() grpc.UnaryClientInterceptor { return t.unary }

// StreamClientInterceptor returns a streaming client interceptor that
// refuses streams as adaptive throttling decides. A stream's outcome is
// counted when it ends, as a Group counts it.
func (t *Throttle) StreamClientInterceptor() grpc.StreamClientInterceptor { return t.stream }

func (t *Throttle) epoch() uint32 { return uint32(t.clock()/t.bucket) + 1 }

func (t *Throttle) probability(req, acc uint64) float64 {
	if req < uint64(t.cfg.MinRequests) {
		return 0
	}
	r := float64(req)
	return max(0, (r-t.cfg.K*float64(acc))/(r+1))
}

// admit decides a call for throttler th: nil, or the refusal.
func (t *Throttle) admit(th *throttler, method string) error {
	now := t.epoch()
	req, acc := th.sums(now)
	p := t.probability(req, acc)
	if p == 0 || t.random() >= p {
		return nil
	}
	th.requests(now).add(now) // a refused call is a request too
	return status.Errorf(codes.Unavailable,
		"breaker: %s: adaptive throttling: refused with probability %.2f (%d requests, %d accepted in the last %v)",
		method, p, req, acc, t.cfg.Window)
}

// done counts the outcome of an admitted call: nil, errFailure or
// errExcluded, in the bucket current when it ends.
func (t *Throttle) done(th *throttler, result error) {
	if result == errExcluded {
		return
	}
	now := t.epoch()
	th.requests(now).add(now)
	if result == nil {
		th.accepts(now).add(now)
	}
}

func (t *Throttle) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if ctx.Err() != nil {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	th := t.get(t.keyOf(ctx, cc, method))
	if err := t.admit(th, method); err != nil {
		return err
	}
	c := callOptionsPool.Get().(*callOptions)
	all := append(append(c.buf[:0], opts...), grpc.PeerCallOption{PeerAddr: &c.peer})
	finished := false
	defer func() {
		if !finished { // the invoker panicked: not the backend's doing
			c.release()
		}
	}()
	err := invoker(ctx, method, req, reply, cc, all...)
	finished = true
	t.done(th, t.outcome(ctx, err, &c.peer))
	c.release()
	return err
}

var callOptionsPool = sync.Pool{New: func() any { return new(callOptions) }}

// release returns c to the pool. gRPC has filled the peer by the time the
// invoker returns and keeps no call option past it.
func (c *callOptions) release() {
	clear(c.buf[:])
	c.peer = peer.Peer{}
	callOptionsPool.Put(c)
}

func (t *Throttle) outcome(ctx context.Context, err error, p *peer.Peer) error {
	if err == nil {
		return nil
	}
	if p.Addr == nil || localError(err) {
		return errExcluded
	}
	return classify(ctx, err, t.opts.isFailure)
}

func (t *Throttle) keyOf(ctx context.Context, cc *grpc.ClientConn, method string) string {
	if t.opts.key == nil {
		return method
	}
	return t.opts.key(ctx, cc, method)
}

func (t *Throttle) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if ctx.Err() != nil {
		return streamer(ctx, desc, cc, method, opts...)
	}
	th := t.get(t.keyOf(ctx, cc, method))
	if err := t.admit(th, method); err != nil {
		return nil, err
	}
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, err // gRPC's own, from this side: not counted
	}
	s := &throttledStream{ClientStream: cs, ctx: ctx, t: t, th: th, serverStreams: desc.ServerStreams}
	s.stop = context.AfterFunc(ctx, s.contextDone)
	return s, nil
}

// throttledStream counts its outcome once, when the stream ends.
type throttledStream struct {
	grpc.ClientStream
	ctx           context.Context
	t             *Throttle
	th            *throttler
	serverStreams bool
	stop          func() bool
	finished      atomic.Bool
}

func (s *throttledStream) SendMsg(m any) error {
	err := s.ClientStream.SendMsg(m)
	if err != nil && !errors.Is(err, io.EOF) {
		s.finish(errExcluded) // ended on this side (see clientStream)
	}
	return err
}

func (s *throttledStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	switch {
	case errors.Is(err, io.EOF):
		s.finish(nil)
	case err != nil && localError(err):
		s.finish(errExcluded)
	case err != nil:
		s.finish(classify(s.ctx, err, s.t.opts.isFailure))
	case !s.serverStreams:
		s.finish(nil)
	}
	return err
}

func (s *throttledStream) contextDone() {
	if s.finished.CompareAndSwap(false, true) {
		err := status.FromContextError(s.ctx.Err()).Err()
		s.t.done(s.th, classify(s.ctx, err, s.t.opts.isFailure))
	}
}

func (s *throttledStream) finish(result error) {
	if s.finished.CompareAndSwap(false, true) {
		s.stop()
		s.t.done(s.th, result)
	}
}

// get returns the throttler for key, creating it on first use.
func (t *Throttle) get(key string) *throttler {
	slot := &t.hot[uintptr(unsafe.Pointer(unsafe.StringData(key)))>>3%hotSlots]
	if th := slot.Load(); th != nil && th.key == key && !th.forgotten.Load() {
		return th
	}
	v, ok := t.keys.Load(key)
	if !ok {
		v = t.create(key)
	}
	th := v.(*throttler)
	slot.Store(th)
	return th
}

func (t *Throttle) create(key string) *throttler {
	t.mu.Lock()
	defer t.mu.Unlock()
	if v, ok := t.keys.Load(key); ok {
		return v.(*throttler)
	}
	if t.count >= t.opts.maxKeys && t.count >= t.nextScan {
		t.nextScan = 0
		before := t.count
		if t.forgetEmptyLocked(); t.count == before {
			// Every key has calls in its window: look again only after
			// an eighth more keys, so a run of new keys does not scan
			// them all each.
			t.nextScan = t.count + max(1, t.count/8)
		}
	}
	th := &throttler{key: key, buckets: make([]tbucket, t.cfg.Buckets)}
	t.keys.Store(key, th)
	t.count++
	return th
}

// forgetEmptyLocked forgets the throttlers with nothing in their window: a
// new throttler for the key would give the same answers. A call in flight
// on a forgotten one counts there, in vain.
func (t *Throttle) forgetEmptyLocked() {
	now := t.epoch()
	t.keys.Range(func(k, v any) bool {
		th := v.(*throttler)
		t.scanned++
		if req, _ := th.sums(now); req == 0 {
			th.forgotten.Store(true)
			t.keys.Delete(k)
			t.count--
		}
		return true
	})
}

// throttler is one key's sliding window: a ring of buckets, the one for
// epoch e at e mod len. Each counter is one atomic word holding the epoch
// it counts for (high half) and its count (low half), so a bucket is
// reused for a new epoch by whichever call first finds it stale, with no
// lock.
type throttler struct {
	key       string
	buckets   []tbucket
	forgotten atomic.Bool
}

type tbucket struct{ req, acc counter }

func (th *throttler) requests(epoch uint32) *counter {
	return &th.buckets[epoch%uint32(len(th.buckets))].req
}

func (th *throttler) accepts(epoch uint32) *counter {
	return &th.buckets[epoch%uint32(len(th.buckets))].acc
}

// sums returns the requests and accepts counted in the window ending with
// epoch.
func (th *throttler) sums(epoch uint32) (req, acc uint64) {
	n := uint32(len(th.buckets))
	for i := range th.buckets {
		req += th.buckets[i].req.count(epoch, n)
		acc += th.buckets[i].acc.count(epoch, n)
	}
	return req, acc
}

// ringAhead bounds how far past a caller's epoch a counter's tag may be
// and still be a later epoch rather than a stale one: a late clock reader
// is late by far less than maxThrottleBuckets windows.
const ringAhead = 1 << 16

// saturated is where a counter stops counting, so that however many
// callers add at once, the count never carries into the tag.
const saturated = 1 << 31

// counter is an epoch-tagged count: epoch<<32 | count, saturating at
// about 2^31. Tags wrap after
// 2^32 buckets: a key idle for a multiple of that (within a window) sees
// its old counts once, until its buckets are reused.
type counter struct{ w atomic.Uint64 }

// add counts one in epoch. A counter already on a later epoch of the
// ring (this caller read the clock just before it moved on) takes the
// count there; any other tag is stale, however far back it wrapped.
func (c *counter) add(epoch uint32) {
	for {
		w := c.w.Load()
		if uint32(w>>32)-epoch < ringAhead {
			if uint32(w) < saturated {
				c.w.Add(1)
			}
			return
		}
		if c.w.CompareAndSwap(w, uint64(epoch)<<32|1) {
			return
		}
	}
}

// count returns the count if the counter's epoch is one of the n ending
// with epoch.
func (c *counter) count(epoch, n uint32) uint64 {
	w := c.w.Load()
	if epoch-uint32(w>>32) < n {
		return uint64(uint32(w))
	}
	return 0
}
