package ratelimit

import (
	"context"
	"math"
	"sync/atomic"
	"time"
	"unsafe"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Client is the client side of a limiter: the unary and stream interceptors
// it makes share its Limiter and the holds by which it honours the servers'
// pushback. After a call fails with a PushbackTrailer, further calls to the
// same target (cc.Target()), by default of the same method (see
// WithPushbackScope), under the same key, are held for as long as the server
// asked, at most WithMaxPushback: rejected at once with
// codes.ResourceExhausted and a message saying the client held them back, or
// with WithWait delayed up to their deadline.
//
// A Client is safe for concurrent use. Make one with NewClient.
type Client struct {
	c *clientGate
}

// NewClient returns the client side of l with opts. A nil l is a token
// bucket of DefaultRate and DefaultBurst; Unlimited only honours pushback.
func NewClient(l Limiter, opts ...Option) *Client {
	return &Client{c: newClientGate(l, opts)}
}

// UnaryClientInterceptor limits outgoing unary calls with l under the key of
// WithKey (default: one global key), and honours the servers' pushback (see
// Client). A nil l is a token bucket of DefaultRate and DefaultBurst;
// Unlimited only honours pushback. Use NewClient to share the pushback holds
// with a stream interceptor.
func UnaryClientInterceptor(l Limiter, opts ...Option) grpc.UnaryClientInterceptor {
	return NewClient(l, opts...).UnaryClientInterceptor()
}

// WrapUnaryClient returns UnaryClientInterceptor(l, opts...) with inner
// inside it; see Client.WrapUnary.
func WrapUnaryClient(l Limiter, inner grpc.UnaryClientInterceptor, opts ...Option) grpc.UnaryClientInterceptor {
	return NewClient(l, opts...).WrapUnary(inner)
}

// StreamClientInterceptor limits outgoing streams when they open, like
// UnaryClientInterceptor, and honours the pushback of a stream that ends in
// an error. With WithPerMessage every sent message is limited too. Use
// NewClient to share the pushback holds with a unary interceptor.
func StreamClientInterceptor(l Limiter, opts ...Option) grpc.StreamClientInterceptor {
	return NewClient(l, opts...).StreamClientInterceptor()
}

// UnaryClientInterceptor limits outgoing unary calls and honours the
// servers' pushback.
func (c *Client) UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return c.WrapUnary(callInvoker)
}

func callInvoker(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return invoker(ctx, method, req, reply, cc, opts...)
}

// WrapUnary returns c's unary interceptor with inner inside it: calls the
// limiter admits go on to inner, and the pushback their calls end with is
// honoured. It is the same as chaining the two, without the closure gRPC's
// chain allocates per call to link them.
//
// The pushback is read when gRPC finishes the call (grpc.OnFinish), from
// state of that call alone, so an inner interceptor may run the invoker on
// another goroutine and return before it ends (a soft timeout). One that
// runs the invoker several times at once with the same options (hedging)
// has gRPC write each attempt's trailer into the same place, as it would
// with any grpc.Trailer option of the caller's.
func (c *Client) WrapUnary(inner grpc.UnaryClientInterceptor) grpc.UnaryClientInterceptor {
	g := c.c
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		key := g.o.key(ctx, method)
		if err := g.admitClient(ctx, cc, key, method); err != nil {
			return err
		}
		call := g.newCall(cc, key, method, nil)
		return inner(ctx, method, req, reply, cc, invoker, call.options(opts)...)
	}
}

// StreamClientInterceptor limits outgoing streams when they open and honours
// the pushback of a stream that fails. With WithPerMessage every sent
// message is limited too, and a message the limiter refuses ends the stream:
// SendMsg returns the rejection, the stream is cancelled, and RecvMsg
// returns the rejection too.
func (c *Client) StreamClientInterceptor() grpc.StreamClientInterceptor {
	g := c.c
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		key := g.o.key(ctx, method)
		if err := g.admitClient(ctx, cc, key, method); err != nil {
			return nil, err
		}
		if g.o.perMessage == nil {
			return streamer(ctx, desc, cc, method, g.newCall(cc, key, method, nil).options(opts)...)
		}
		ctx, cancel := context.WithCancel(ctx)
		cs, err := streamer(ctx, desc, cc, method, g.newCall(cc, key, method, cancel).options(opts)...)
		if err != nil {
			cancel()
			return nil, err
		}
		return &clientStream{ClientStream: cs, g: g, key: key, method: method, cancel: cancel}, nil
	}
}

// call is one call's part in honouring pushback: gRPC writes the call's
// trailer into md, and calls finish when the call is over, whichever
// goroutine runs it. One is made per call and never reused, so that nothing
// an inner interceptor leaves running can write into another call's.
type call struct {
	g           *clientGate
	target      string
	key, method string
	cancel      context.CancelFunc // releases a stream's context; may be nil
	md          metadata.MD
	opts        [4]grpc.CallOption
}

func (g *clientGate) newCall(cc *grpc.ClientConn, key, method string, cancel context.CancelFunc) *call {
	return &call{g: g, target: ccTarget(cc), key: key, method: method, cancel: cancel}
}

// ccTarget is cc's target, "" without a ClientConn (interceptors called
// directly, as in tests).
func ccTarget(cc *grpc.ClientConn) string {
	if cc == nil {
		return ""
	}
	return cc.Target()
}

// options returns opts with the options that deliver the call's trailer and
// end to it. The caller's slice is not modified.
func (cl *call) options(opts []grpc.CallOption) []grpc.CallOption {
	out := cl.opts[:0]
	if len(opts)+2 > len(cl.opts) {
		out = make([]grpc.CallOption, 0, len(opts)+2)
	}
	out = append(out, opts...)
	return append(out, grpc.TrailerCallOption{TrailerAddr: &cl.md}, grpc.OnFinish(cl.finish))
}

// finish is called by gRPC once the call is over and its trailer written.
func (cl *call) finish(err error) {
	if err != nil {
		cl.g.notePushback(cl.target, cl.method, cl.key, cl.md)
	}
	if cl.cancel != nil {
		cl.cancel()
	}
}

// PushbackScope says which calls a server's pushback holds back.
type PushbackScope int

const (
	// PushbackPerMethod holds back the calls of the method the pushback
	// came with, to the same target and under the same key. The default.
	PushbackPerMethod PushbackScope = iota
	// PushbackPerTarget holds back every call to the target the pushback
	// came from, under the same key.
	PushbackPerTarget
)

// DefaultMaxPushback is the longest a client holds calls back after a
// server's pushback unless WithMaxPushback says otherwise.
const DefaultMaxPushback = 5 * time.Second

// hold is how long a server asked calls to back off.
type hold struct {
	until atomic.Int64 // unix nanoseconds
}

// clientGate is a gate plus the pushback holds it honours.
type clientGate struct {
	*gate
	holds *store[hold]
	// latest is the end of the latest hold noted, in Unix nanoseconds, or
	// 0 once it has passed: while it is 0 calls do not look for holds.
	latest atomic.Int64
}

// holdIdle is how long an unused hold is kept; it is forgotten only once
// expired, so any bound works.
const holdIdle = time.Minute

// holdExpired reports whether h no longer holds anything back at Unix
// nanosecond now.
func holdExpired(h *hold, now int64) bool { return h.until.Load() <= now }

func newClientGate(l Limiter, opts []Option) *clientGate {
	g := newGate(l, opts, true)
	return &clientGate{gate: g, holds: newStore(DefaultMaxKeys, holdIdle, nil, holdExpired)}
}

// holdKey is the key of the holds a call to target's method under key
// honours and notes.
func (c *clientGate) holdKey(target, method, key string) string {
	return string(c.appendHoldKey(nil, target, method, key))
}

// appendHoldKey appends holdKey(target, method, key) to b.
func (c *clientGate) appendHoldKey(b []byte, target, method, key string) []byte {
	b = append(append(b, target...), 0)
	if c.o.pushbackScope != PushbackPerTarget {
		b = append(append(b, method...), 0)
	}
	return append(b, key...)
}

// peekHold returns the hold of a call to target's method under key, or nil.
// The key is built on the stack when it is short, so looking a hold up
// allocates nothing.
func (c *clientGate) peekHold(target, method, key string) *hold {
	var buf [128]byte
	b := c.appendHoldKey(buf[:0], target, method, key)
	// The store only hashes and compares the key: the string does not
	// outlive b.
	return c.holds.peek(unsafe.String(unsafe.SliceData(b), len(b)))
}

// admitClient holds the call while the server's pushback lasts, then asks
// the limiter.
func (c *clientGate) admitClient(ctx context.Context, cc *grpc.ClientConn, key, method string) error {
	if err := c.honourHold(ctx, cc, key, method); err != nil {
		return err
	}
	_, err := c.admit(ctx, c.l, key, method)
	return err
}

// honourHold waits out a pushback hold on the call if the budget allows, or
// rejects it at once. While no hold lasts it reads one atomic; while one
// does, every call looks its own up.
func (c *clientGate) honourHold(ctx context.Context, cc *grpc.ClientConn, key, method string) error {
	latest := c.latest.Load()
	if latest == 0 {
		return nil
	}
	now := c.o.clock.Now().UnixNano()
	if latest <= now {
		c.latest.CompareAndSwap(latest, 0)
		return nil
	}
	h := c.peekHold(ccTarget(cc), method, key)
	if h == nil {
		return nil
	}
	d := time.Duration(h.until.Load() - now)
	if d <= 0 {
		return nil
	}
	if d > c.budget(ctx) {
		recordReject(ctx, decisionPushback, d)
		c.m.recordReject(ctx, true)
		return status.Errorf(codes.ResourceExhausted,
			"ratelimit: %s held back by the client: the server asked it to back off (%s), retry in %v", method, PushbackTrailer, d)
	}
	return c.wait(ctx, d)
}

// notePushback starts a hold if the trailer asks for one, for at most the
// configured maximum.
func (c *clientGate) notePushback(target, method, key string, trailer metadata.MD) {
	d, ok := parsePushback(trailer)
	if !ok || d == 0 {
		return
	}
	now := c.o.clock.Now().UnixNano()
	until := addSaturated(now, min(d, c.o.maxPushback))
	h := c.holds.get(c.holdKey(target, method, key), now)
	raise(&h.until, until)
	// After the hold is stored, so that a call that sees latest finds it.
	raise(&c.latest, until)
}

// addSaturated is Unix nanosecond ns plus d, at most the largest one: a
// long hold under a large WithMaxPushback must not wrap around to the past.
func addSaturated(ns int64, d time.Duration) int64 {
	if int64(d) > math.MaxInt64-ns {
		return math.MaxInt64
	}
	return ns + int64(d)
}

// raise makes v at least x.
func raise(v *atomic.Int64, x int64) {
	for {
		cur := v.Load()
		if cur >= x || v.CompareAndSwap(cur, x) {
			return
		}
	}
}

// clientStream limits the messages a stream sends, and ends the stream when
// one is refused.
type clientStream struct {
	grpc.ClientStream
	g        *clientGate
	key      string
	method   string
	cancel   context.CancelFunc
	rejected atomic.Pointer[error]
}

// SendMsg admits the message (or waits for it to be admitted) and sends it.
// A message refused ends the stream, as any SendMsg error does in gRPC.
func (s *clientStream) SendMsg(m any) error {
	if err := s.rejected.Load(); err != nil {
		return *err
	}
	if _, err := s.g.admit(s.Context(), s.g.o.perMessage, s.key, s.method); err != nil {
		s.rejected.Store(&err)
		s.cancel()
		return err
	}
	return s.ClientStream.SendMsg(m)
}

// RecvMsg receives a message; after a refused message it returns the
// rejection.
func (s *clientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil {
		if rej := s.rejected.Load(); rej != nil {
			return *rej
		}
	}
	return err
}
