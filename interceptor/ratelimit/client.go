package ratelimit

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// UnaryClientInterceptor limits outgoing unary calls with l under the key of
// WithKey (default: one global key), and honours the servers' pushback: after
// a call fails with a PushbackTrailer, further calls under its key are held
// for that long (rejected at once with codes.ResourceExhausted, or with
// WithWait delayed up to their deadline). A nil l is a token bucket of
// DefaultRate and DefaultBurst; Unlimited only honours pushback.
func UnaryClientInterceptor(l Limiter, opts ...Option) grpc.UnaryClientInterceptor {
	return WrapUnaryClient(l, callInvoker, opts...)
}

func callInvoker(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return invoker(ctx, method, req, reply, cc, opts...)
}

// WrapUnaryClient returns UnaryClientInterceptor(l, opts...) with inner
// inside it: calls the limiter admits go on to inner, and the pushback inner's
// call ends with is honoured. It is the same as chaining the two, without the
// closure gRPC's chain allocates per call to link them.
func WrapUnaryClient(l Limiter, inner grpc.UnaryClientInterceptor, opts ...Option) grpc.UnaryClientInterceptor {
	c := newClientGate(l, opts)
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		key := c.o.key(ctx, method)
		if err := c.admitClient(ctx, key, method); err != nil {
			return err
		}
		t := trailers.Get().(*trailerSlot)
		t.opts = append(append(t.opts[:0], opts...), t.trailer)
		err := inner(ctx, method, req, reply, cc, invoker, t.opts...)
		if err != nil {
			c.notePushback(key, t.md)
		}
		clear(t.opts) // do not keep the caller's options alive
		t.md, t.opts = nil, t.opts[:0]
		trailers.Put(t)
		return err
	}
}

// trailerSlot receives one unary call's trailer, where the pushback is. The
// slots are pooled with their CallOption built once and a slice to pass it
// beside the caller's options (generated stubs always pass one), so that
// asking gRPC for the trailer costs no allocation per call. gRPC fills md
// before the invoker returns and keeps neither the options nor the slice.
type trailerSlot struct {
	md      metadata.MD
	trailer grpc.CallOption // grpc.Trailer(&md)
	opts    []grpc.CallOption
}

var trailers = sync.Pool{New: func() any {
	t := new(trailerSlot)
	t.trailer = grpc.Trailer(&t.md)
	return t
}}

// StreamClientInterceptor limits outgoing streams when they open, like
// UnaryClientInterceptor, and honours the pushback of a stream that ends in
// an error. With WithPerMessage every sent message is limited too.
func StreamClientInterceptor(l Limiter, opts ...Option) grpc.StreamClientInterceptor {
	c := newClientGate(l, opts)
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		key := c.o.key(ctx, method)
		if err := c.admitClient(ctx, key, method); err != nil {
			return nil, err
		}
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			return nil, err
		}
		return &clientStream{ClientStream: cs, c: c, key: key, method: method}, nil
	}
}

// hold is how long the server asked a key to back off.
type hold struct {
	until atomic.Int64 // unix nanoseconds
}

// clientGate is a gate plus the pushback holds it honours.
type clientGate struct {
	*gate
	holds *store[hold]
}

// holdIdle is how long an unused hold is kept; it is forgotten only once
// expired, so any bound works.
const holdIdle = time.Minute

// holdExpired reports whether h no longer holds anything back at Unix
// nanosecond now.
func holdExpired(h *hold, now int64) bool { return h.until.Load() <= now }

func newClientGate(l Limiter, opts []Option) *clientGate {
	g := newGate(l, opts)
	return &clientGate{gate: g, holds: newStore(DefaultMaxKeys, holdIdle, nil, holdExpired)}
}

// admitClient holds the call while the server's pushback lasts, then asks
// the limiter.
func (c *clientGate) admitClient(ctx context.Context, key, method string) error {
	if err := c.honourHold(ctx, key, method); err != nil {
		return err
	}
	_, err := c.admit(ctx, c.l, key, method)
	return err
}

// honourHold waits out a pushback hold on key if the budget allows, or
// rejects at once.
func (c *clientGate) honourHold(ctx context.Context, key, method string) error {
	h := c.holds.peek(key)
	if h == nil {
		return nil
	}
	d := time.Duration(h.until.Load() - c.o.clock.Now().UnixNano())
	if d <= 0 {
		return nil
	}
	if d > c.budget(ctx) {
		recordReject(ctx, decisionPushback, d)
		return rejection(method, d)
	}
	return c.wait(ctx, d)
}

// notePushback starts a hold on key if the trailer asks for one.
func (c *clientGate) notePushback(key string, trailer metadata.MD) {
	d, ok := parsePushback(trailer)
	if !ok || d == 0 {
		return
	}
	now := c.o.clock.Now()
	until := now.Add(d).UnixNano()
	h := c.holds.get(key, now.UnixNano())
	for {
		cur := h.until.Load()
		if cur >= until || h.until.CompareAndSwap(cur, until) {
			return
		}
	}
}

// clientStream honours the pushback of a stream that fails, and limits sent
// messages with WithPerMessage.
type clientStream struct {
	grpc.ClientStream
	c      *clientGate
	key    string
	method string
}

func (s *clientStream) SendMsg(m any) error {
	if pm := s.c.o.perMessage; pm != nil {
		if _, err := s.c.admit(s.Context(), pm, s.key, s.method); err != nil {
			return err
		}
	}
	return s.ClientStream.SendMsg(m)
}

func (s *clientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil {
		// After a failed RecvMsg the trailer is final and Trailer does not
		// block; after io.EOF there is nothing to honour.
		s.c.notePushback(s.key, s.ClientStream.Trailer())
	}
	return err
}
