package breaker

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// UnaryClientInterceptor returns a unary client interceptor that sends every
// call through a circuit breaker (see Group). It panics if opts are invalid;
// use New to get the error instead.
func UnaryClientInterceptor(opts ...Option) grpc.UnaryClientInterceptor {
	return mustNew(opts).UnaryClientInterceptor()
}

// StreamClientInterceptor returns a streaming client interceptor that sends
// every stream through a circuit breaker (see Group). It panics if opts are
// invalid; use New to get the error instead.
func StreamClientInterceptor(opts ...Option) grpc.StreamClientInterceptor {
	return mustNew(opts).StreamClientInterceptor()
}

// UnaryClientInterceptor returns a unary client interceptor using g's
// breakers. A call refused by an open breaker fails at once with
// codes.Unavailable and never reaches the network.
//
// The interceptor adds a grpc.Peer call option to learn whether the call
// got a transport stream; interceptors inside it must pass call options on
// and return only once their invoker has. With WithAdaptiveThrottling the
// Group's interceptors are its Throttle's.
func (g *Group) UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	if g.throttle != nil {
		return g.throttle.unary
	}
	return g.unary
}

// StreamClientInterceptor returns a streaming client interceptor using g's
// breakers. The stream's outcome is recorded when it ends: RecvMsg returning
// io.EOF (or the single reply of a client-streaming call) is a success, any
// other error ending it is classified like a unary error, and the caller's
// context ending first records cancellation (not counted) or an expired
// deadline (a failure, as for unary calls). A half-open probe is decided at
// its first response (header or message), which frees its slot; a failure
// later in the stream still counts.
func (g *Group) StreamClientInterceptor() grpc.StreamClientInterceptor {
	if g.throttle != nil {
		return g.throttle.stream
	}
	return g.stream
}

func (g *Group) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if ctx.Err() != nil {
		// The caller's context has ended: the call cannot reach a
		// backend, and its error says nothing about one.
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	e, t, err := g.admit(g.keyOf(ctx, cc, method))
	e.flush(ctx)
	if err != nil {
		return e.refuse(ctx, method, err)
	}
	c := callOptionsPool.Get().(*callOptions)
	all := append(append(c.buf[:0], opts...), grpc.PeerCallOption{PeerAddr: &c.peer})
	finished := false
	defer func() {
		if !finished { // the invoker panicked: not the backend's doing
			c.release()
			e.done(t, errExcluded, 0, time.Now())
			e.flush(ctx)
		}
	}()
	err = invoker(ctx, method, req, reply, cc, all...)
	finished = true
	outcome, id := g.outcome(ctx, err, &c.peer), peerID(c.peer.Addr)
	c.release()
	e.done(t, outcome, id, time.Now())
	e.flush(ctx)
	return err
}

// callOptions holds a unary call's options with the interceptor's
// grpc.Peer added; pooled, so a call allocates nothing.
type callOptions struct {
	peer peer.Peer
	buf  [4]grpc.CallOption
}

// outcome classifies a finished unary call. An error of a call that got no
// transport stream (p never filled: no endpoint picked, the picker's or the
// credentials' error, the caller's deadline while waiting for a connection)
// or that failed on this side (see localError) is not counted.
func (g *Group) outcome(ctx context.Context, err error, p *peer.Peer) error {
	if err == nil {
		return nil
	}
	if p.Addr == nil || localError(err) {
		return errExcluded
	}
	return classify(ctx, err, g.opts.isFailure)
}

func (g *Group) keyOf(ctx context.Context, cc *grpc.ClientConn, method string) string {
	if g.opts.key == nil {
		return method
	}
	return g.opts.key(ctx, cc, method)
}

func (g *Group) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if ctx.Err() != nil {
		return streamer(ctx, desc, cc, method, opts...)
	}
	e, t, err := g.admit(g.keyOf(ctx, cc, method))
	e.flush(ctx)
	if err != nil {
		return nil, e.refuse(ctx, method, err)
	}
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		// gRPC creates a stream before anything is sent, so its errors
		// come from this side: no endpoint, credentials, the context.
		e.done(t, errExcluded, 0, time.Now())
		e.flush(ctx)
		return nil, err
	}
	s := &clientStream{ClientStream: cs, ctx: ctx, e: e, t: t, serverStreams: desc.ServerStreams}
	if t.kind == kindProbe {
		s.probe.Store(true)
		go s.awaitHeader()
	}
	// No goroutine per stream (but a probe's, until its first response):
	// AfterFunc only registers with ctx, and stop unregisters once the
	// stream has ended.
	s.stop = context.AfterFunc(ctx, s.contextDone)
	return s, nil
}

// refuse turns a refusal into the status the caller sees.
func (e *entry) refuse(ctx context.Context, method string, err error) error {
	state := StateOpen
	msg := "circuit open"
	if errors.Is(err, gobreaker.ErrTooManyRequests) {
		state, msg = StateHalfOpen, "circuit half-open, probe limit reached"
	}
	e.rejected(ctx, method, state)
	return status.Errorf(codes.Unavailable, "breaker: %s: %s", method, msg)
}

// clientStream records its outcome with its breaker exactly once, when the
// stream ends, and a probe's first response as soon as it comes.
type clientStream struct {
	grpc.ClientStream
	ctx           context.Context // the caller's
	e             *entry
	stop          func() bool
	serverStreams bool
	probe         atomic.Bool // an undecided half-open probe

	mu       sync.Mutex // guards t and finished
	t        ticket
	finished bool
}

func (s *clientStream) SendMsg(m any) error {
	err := s.ClientStream.SendMsg(m)
	if err != nil && !errors.Is(err, io.EOF) {
		// gRPC hands transport errors to RecvMsg (SendMsg returns io.EOF):
		// any other error ended the stream on this side (marshalling,
		// message size, an interceptor's refusal).
		s.finish(errExcluded)
	}
	return err
}

func (s *clientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	switch {
	case errors.Is(err, io.EOF):
		s.finish(nil)
	case err != nil && localError(err):
		s.finish(errExcluded) // a reply this side could not take
	case err != nil:
		s.finish(classify(s.ctx, err, s.e.g.opts.isFailure))
	case !s.serverStreams:
		// The single reply of a unary-response stream: gRPC has read
		// the final status already, so the stream has ended well.
		s.finish(nil)
	case s.probe.Load():
		s.decide()
	}
	return err
}

func (s *clientStream) Header() (metadata.MD, error) {
	md, err := s.ClientStream.Header()
	if md != nil && s.probe.Load() {
		s.decide()
	}
	return md, err
}

// awaitHeader decides a probe when the backend's header arrives. It ends
// when the header arrives or the stream ends without one.
func (s *clientStream) awaitHeader() {
	if md, _ := s.ClientStream.Header(); md != nil {
		s.decide()
	}
}

// decide records a probe's first response: the backend answered.
func (s *clientStream) decide() {
	s.mu.Lock()
	if s.finished || !s.probe.Swap(false) {
		s.mu.Unlock()
		return
	}
	s.t = s.e.decide(s.t, time.Now())
	s.mu.Unlock()
	s.e.flush(s.ctx)
}

// contextDone runs (on a goroutine of the context package) when the
// caller's context ends before the stream did.
func (s *clientStream) contextDone() {
	err := status.FromContextError(s.ctx.Err()).Err()
	s.record(context.Background(), classify(s.ctx, err, s.e.g.opts.isFailure))
}

// finish records the outcome of a stream the caller saw end.
func (s *clientStream) finish(result error) {
	if s.record(s.ctx, result) {
		s.stop()
	}
}

// record reports result to the breaker if nothing was reported before.
// It does not touch stop, which contextDone may run before it is set.
// Lock order: s.mu, then the entry's.
func (s *clientStream) record(ctx context.Context, result error) bool {
	var from uint64
	if result != errExcluded {
		from = s.peer()
	}
	s.mu.Lock()
	if s.finished {
		s.mu.Unlock()
		return false
	}
	s.finished = true
	s.probe.Store(false)
	s.e.done(s.t, result, from, time.Now())
	s.mu.Unlock()
	s.e.flush(ctx)
	return true
}

// peer names the backend of a stream that has ended (see peerID). gRPC's
// stream context commits the stream to its attempt, so it is read only
// once the stream has ended, when no retry can follow.
func (s *clientStream) peer() uint64 {
	if p, ok := peer.FromContext(s.ClientStream.Context()); ok {
		return peerID(p.Addr)
	}
	return 0
}
