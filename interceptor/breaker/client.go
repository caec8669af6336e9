package breaker

import (
	"context"
	"errors"
	"io"
	"sync/atomic"

	"github.com/sony/gobreaker/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
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
func (g *Group) UnaryClientInterceptor() grpc.UnaryClientInterceptor { return g.unary }

// StreamClientInterceptor returns a streaming client interceptor using g's
// breakers. The stream's outcome is recorded when it ends: RecvMsg returning
// io.EOF (or the single reply of a client-streaming call) is a success, any
// other error ending it is classified like a unary error, and the caller's
// context ending first records cancellation (not counted) or an expired
// deadline (a failure, as for unary calls).
func (g *Group) StreamClientInterceptor() grpc.StreamClientInterceptor { return g.stream }

func (g *Group) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	e := g.get(g.keyOf(ctx, cc, method))
	if e.cb1 == nil {
		return g.unaryTwoStep(ctx, e, method, req, reply, cc, invoker, opts)
	}
	var err error
	// Execute records what the function returns (a panic counts as a
	// failure) and returns it, or its own refusal.
	_, verdict := e.cb1.Execute(func() (struct{}, error) {
		if err = invoker(ctx, method, req, reply, cc, opts...); err == nil {
			return struct{}{}, nil
		}
		return struct{}{}, classify(ctx, err, g.opts.isFailure)
	})
	e.flush(ctx)
	if refused(verdict) {
		return e.refuse(ctx, method, verdict)
	}
	return err
}

// unaryTwoStep is unary for a gobreaker whose layout innerBreaker does not
// know.
func (g *Group) unaryTwoStep(ctx context.Context, e *entry, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts []grpc.CallOption) error {
	done, err := e.cb.Allow()
	e.flush(ctx)
	if err != nil {
		return e.refuse(ctx, method, err)
	}
	finished := false
	defer func() {
		if !finished { // the invoker panicked: free the slot, count a failure
			done(errFailure)
			e.flush(ctx)
		}
	}()
	err = invoker(ctx, method, req, reply, cc, opts...)
	finished = true
	done(classify(ctx, err, g.opts.isFailure))
	e.flush(ctx)
	return err
}

func (g *Group) keyOf(ctx context.Context, cc *grpc.ClientConn, method string) string {
	if g.opts.key == nil {
		return method
	}
	return g.opts.key(ctx, cc, method)
}

func refused(err error) bool {
	return err == gobreaker.ErrOpenState || err == gobreaker.ErrTooManyRequests
}

func (g *Group) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	e := g.get(g.keyOf(ctx, cc, method))
	done, err := e.cb.Allow()
	e.flush(ctx)
	if err != nil {
		return nil, e.refuse(ctx, method, err)
	}
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		done(classify(ctx, err, g.opts.isFailure))
		e.flush(ctx)
		return nil, err
	}
	s := &clientStream{ClientStream: cs, ctx: ctx, e: e, done: done, serverStreams: desc.ServerStreams}
	// No goroutine per stream: AfterFunc only registers with ctx, and
	// stop unregisters once the stream has ended.
	s.stop = context.AfterFunc(ctx, s.contextDone)
	return s, nil
}

// refuse turns gobreaker's refusal into the status the caller sees.
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
// stream ends.
type clientStream struct {
	grpc.ClientStream
	ctx           context.Context // the caller's
	e             *entry
	done          func(error)
	stop          func() bool
	serverStreams bool
	finished      atomic.Bool
}

func (s *clientStream) SendMsg(m any) error {
	err := s.ClientStream.SendMsg(m)
	if err != nil && !errors.Is(err, io.EOF) {
		// Not io.EOF: the stream failed here (io.EOF defers to RecvMsg).
		s.finish(classify(s.ctx, err, s.e.g.opts.isFailure))
	}
	return err
}

func (s *clientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	switch {
	case errors.Is(err, io.EOF):
		s.finish(nil)
	case err != nil:
		s.finish(classify(s.ctx, err, s.e.g.opts.isFailure))
	case !s.serverStreams:
		// The single reply of a unary-response stream: gRPC has read
		// the final status already, so the stream has ended well.
		s.finish(nil)
	}
	return err
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
func (s *clientStream) record(ctx context.Context, result error) bool {
	if !s.finished.CompareAndSwap(false, true) {
		return false
	}
	s.done(result)
	s.e.flush(ctx)
	return true
}
