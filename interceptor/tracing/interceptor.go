package tracing

import (
	"context"
	"errors"
	"io"
	"sync/atomic"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// UnaryServerInterceptor returns an interceptor that traces the unary RPCs a
// server receives: it continues the caller's trace from the incoming
// metadata and, when the tracer samples the RPC, records a server span.
// Chain it first, so the interceptors after it (rate limit, recovery) see
// the span and their events land on it.
func UnaryServerInterceptor(opts ...Option) grpc.UnaryServerInterceptor {
	return WrapUnaryServer(callHandler, opts...)
}

// StreamServerInterceptor is UnaryServerInterceptor for streams.
func StreamServerInterceptor(opts ...Option) grpc.StreamServerInterceptor {
	return WrapStreamServer(callStreamHandler, opts...)
}

// UnaryClientInterceptor returns an interceptor that traces the unary calls
// of a connection: when the tracer samples the call it records a client
// span, child of the span in the call's context, and it always propagates
// the span context in the outgoing metadata. Chain it first, so the
// interceptors after it (breaker, rate limit) see the span and their events
// land on it.
func UnaryClientInterceptor(opts ...Option) grpc.UnaryClientInterceptor {
	return WrapUnaryClient(callInvoker, opts...)
}

// StreamClientInterceptor is UnaryClientInterceptor for streams. The span
// ends when the caller sees the stream end (RecvMsg returns io.EOF or an
// error, SendMsg an error other than io.EOF, or the one response of a call
// that does not stream responses arrives), or when the call's context is
// done, whichever comes first. A stream never read to its end on a context
// that is never done keeps its span open.
func StreamClientInterceptor(opts ...Option) grpc.StreamClientInterceptor {
	return WrapStreamClient(callStreamer, opts...)
}

// WrapUnaryServer returns UnaryServerInterceptor(opts...) with inner inside
// it. It is the same as chaining the two, without the closure gRPC's chain
// allocates per call to link them.
func WrapUnaryServer(inner grpc.UnaryServerInterceptor, opts ...Option) grpc.UnaryServerInterceptor {
	s := newRPCSide(trace.SpanKindServer, opts)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, span := s.startServer(ctx, info.FullMethod)
		if span == nil {
			return inner(ctx, req, info, handler)
		}
		resp, err := inner(ctx, req, info, handler)
		s.end(span, err)
		return resp, err
	}
}

// WrapStreamServer is WrapUnaryServer for streams.
func WrapStreamServer(inner grpc.StreamServerInterceptor, opts ...Option) grpc.StreamServerInterceptor {
	s := newRPCSide(trace.SpanKindServer, opts)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, span := s.startServer(ss.Context(), info.FullMethod)
		ss = &serverStream{ServerStream: ss, ctx: ctx}
		if span == nil {
			return inner(srv, ss, info, handler)
		}
		err := inner(srv, ss, info, handler)
		s.end(span, err)
		return err
	}
}

// WrapUnaryClient returns UnaryClientInterceptor(opts...) with inner inside
// it, without the closure gRPC's chain allocates per call to link them.
//
// A recorded call learns the backend through grpc.Peer and grpc.OnFinish
// options added to the call. An inner interceptor that runs the invoker
// several times at once with the same options (hedging) has gRPC write each
// attempt's peer into the same place, as with any grpc.Peer option of the
// caller's; one that returns before the invoker ends leaves the span
// without the backend.
func WrapUnaryClient(inner grpc.UnaryClientInterceptor, opts ...Option) grpc.UnaryClientInterceptor {
	s := newRPCSide(trace.SpanKindClient, opts)
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx, span := s.startClient(ctx, method)
		if span == nil {
			return inner(ctx, method, req, reply, cc, invoker, opts...)
		}
		c := &clientCall{side: s, span: span}
		err := inner(ctx, method, req, reply, cc, invoker, c.options(opts)...)
		c.end(err)
		return err
	}
}

// WrapStreamClient is WrapUnaryClient for streams.
func WrapStreamClient(inner grpc.StreamClientInterceptor, opts ...Option) grpc.StreamClientInterceptor {
	s := newRPCSide(trace.SpanKindClient, opts)
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		ctx, span := s.startClient(ctx, method)
		if span == nil {
			return inner(ctx, desc, cc, method, streamer, opts...)
		}
		c := &clientCall{side: s, span: span}
		c.stop = context.AfterFunc(ctx, func() { c.abandoned(ctx) })
		cs, err := inner(ctx, desc, cc, method, streamer, c.options(opts)...)
		if err != nil {
			c.end(err)
			return nil, err
		}
		return &clientStream{ClientStream: cs, call: c, serverStreams: desc.ServerStreams}, nil
	}
}

func callHandler(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	return handler(ctx, req)
}

func callStreamHandler(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, ss)
}

func callInvoker(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return invoker(ctx, method, req, reply, cc, opts...)
}

func callStreamer(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return streamer(ctx, desc, cc, method, opts...)
}

// startServer continues the caller's trace in ctx and starts the server
// span of the RPC. The span is nil unless it records; then it has the
// method's and the connection's attributes.
func (s *rpcSide) startServer(ctx context.Context, fullMethod string) (context.Context, trace.Span) {
	ctx = extract(ctx, s.cfg.propagator)
	if s.cfg.filter != nil && !s.keep(fullMethod) {
		return ctx, nil
	}
	e := s.tracers.get()
	if e.noop {
		return ctx, nil
	}
	ctx, span := e.tracer.Start(ctx, spanName(fullMethod), s.starts...)
	if !span.IsRecording() {
		return ctx, nil
	}
	span.SetAttributes(s.method(fullMethod).attrs...)
	if p, ok := peer.FromContext(ctx); ok {
		if p.LocalAddr != nil {
			span.SetAttributes(s.local.get(p.LocalAddr, serverAddrAttrs)...)
		}
		if p.Addr != nil {
			span.SetAttributes(s.remote.get(p.Addr, peerAttrs)...)
		}
	}
	return ctx, span
}

// startClient starts the client span of the call and puts its span context
// in the outgoing metadata. The span is nil unless it records; then it has
// the method's attributes.
func (s *rpcSide) startClient(ctx context.Context, fullMethod string) (context.Context, trace.Span) {
	if s.cfg.filter != nil && !s.keep(fullMethod) {
		return inject(ctx, s.cfg.propagator), nil
	}
	e := s.tracers.get()
	if e.noop {
		return inject(ctx, s.cfg.propagator), nil
	}
	ctx, span := e.tracer.Start(ctx, spanName(fullMethod), s.starts...)
	ctx = inject(ctx, s.cfg.propagator)
	if !span.IsRecording() {
		return ctx, nil
	}
	span.SetAttributes(s.method(fullMethod).attrs...)
	return ctx, span
}

// serverStream gives the handler the context with the RPC's span.
type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *serverStream) Context() context.Context { return s.ctx }

// clientCall is one recorded client call: gRPC writes the backend it picked
// into peer and calls onFinish when it ends the call; the span ends once,
// with the error the caller gets.
type clientCall struct {
	side     *rpcSide
	span     trace.Span
	peer     peer.Peer
	err      error       // what gRPC ended the call with
	finished atomic.Bool // gRPC ended the call: peer and err are written
	ended    atomic.Bool
	stop     func() bool // a stream's context.AfterFunc; nil for unary calls
	opts     [2]grpc.CallOption
}

// options returns opts with the call's own: grpc.Peer, then grpc.OnFinish,
// which gRPC runs in that order.
func (c *clientCall) options(opts []grpc.CallOption) []grpc.CallOption {
	c.opts = [2]grpc.CallOption{grpc.Peer(&c.peer), grpc.OnFinish(c.onFinish)}
	if len(opts) == 0 {
		return c.opts[:]
	}
	return append(opts[:len(opts):len(opts)], c.opts[:]...)
}

// onFinish notes that gRPC ended the call, and how.
func (c *clientCall) onFinish(err error) {
	c.err = err
	c.finished.Store(true)
}

// abandoned ends the span of a stream whose caller's context is done, as
// the caller may never read the stream to its end: with gRPC's status if
// gRPC has ended the stream, else with the context's.
//
// It runs on the context's goroutine, which may start before the
// interceptor has stored stop (a context already done), so it leaves stop
// alone: the callback is running, there is nothing left to stop.
func (c *clientCall) abandoned(ctx context.Context) {
	err := status.FromContextError(ctx.Err()).Err()
	if c.finished.Load() {
		err = c.err
	}
	if c.ended.CompareAndSwap(false, true) {
		c.finish(err)
	}
}

// end ends the span with err, the first time it is called, and stops the
// stream's context callback. It runs on the caller's goroutines only.
func (c *clientCall) end(err error) {
	if !c.ended.CompareAndSwap(false, true) {
		return
	}
	if c.stop != nil {
		c.stop()
	}
	c.finish(err)
}

// finish records the backend and ends the span. The backend is known if
// gRPC ended the call, even with an error, after choosing one.
func (c *clientCall) finish(err error) {
	if c.finished.Load() && c.peer.Addr != nil {
		c.span.SetAttributes(c.side.remote.get(c.peer.Addr, backendAttrs)...)
	}
	c.side.end(c.span, err)
}

// clientStream ends the call's span when the caller sees the stream end.
type clientStream struct {
	grpc.ClientStream
	call          *clientCall
	serverStreams bool
}

func (s *clientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	switch {
	case errors.Is(err, io.EOF):
		s.call.end(nil)
	case err != nil:
		s.call.end(err)
	case !s.serverStreams:
		s.call.end(nil) // the one response: the stream is over
	}
	return err
}

func (s *clientStream) SendMsg(m any) error {
	err := s.ClientStream.SendMsg(m)
	if err != nil && !errors.Is(err, io.EOF) { // io.EOF: RecvMsg has the status
		s.call.end(err)
	}
	return err
}
