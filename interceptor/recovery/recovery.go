package recovery

import (
	"context"
	"errors"
	"runtime/debug"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/status"
)

var logger = grpclog.Component("grpckit-recovery")

// errPanic is what the client of a panicking handler gets by default.
var errPanic = status.Error(codes.Internal, "internal error")

// ErrGoexit is the Panic.Value of a handler that called runtime.Goexit
// (directly, or through t.FailNow or t.Fatal in a test's server): the call
// is answered as for a panic.
var ErrGoexit = errors.New("recovery: the handler called runtime.Goexit")

// UnaryServerInterceptor returns a unary server interceptor that recovers a
// panic in the handler and answers the call with codes.Internal.
func UnaryServerInterceptor(opts ...Option) grpc.UnaryServerInterceptor {
	return WrapUnary(callHandler, opts...)
}

// StreamServerInterceptor returns a stream server interceptor that recovers
// a panic in the handler and ends the stream with codes.Internal.
func StreamServerInterceptor(opts ...Option) grpc.StreamServerInterceptor {
	return WrapStream(callStreamHandler, opts...)
}

// WrapUnary returns inner run under the recovery of UnaryServerInterceptor:
// a panic in inner or in the handler it calls becomes codes.Internal. It is
// the same as chaining UnaryServerInterceptor before inner, without the
// closure gRPC's chain allocates per call to link the two.
func WrapUnary(inner grpc.UnaryServerInterceptor, opts ...Option) grpc.UnaryServerInterceptor {
	c := newConfig(opts)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		returned := false
		defer func() {
			if v := recover(); v != nil {
				resp, err = nil, c.recovered(ctx, info.FullMethod, v)
			} else if !returned {
				c.goexit(ctx, info.FullMethod)
			}
		}()
		resp, err = inner(ctx, req, info, handler)
		returned = true
		return resp, err
	}
}

// WrapStream is WrapUnary for streams.
func WrapStream(inner grpc.StreamServerInterceptor, opts ...Option) grpc.StreamServerInterceptor {
	c := newConfig(opts)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		returned := false
		defer func() {
			if v := recover(); v != nil {
				err = c.recovered(ss.Context(), info.FullMethod, v)
			} else if !returned {
				c.goexit(ss.Context(), info.FullMethod)
			}
		}()
		err = inner(srv, ss, info, handler)
		returned = true
		return err
	}
}

func callHandler(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	return handler(ctx, req)
}

func callStreamHandler(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, ss)
}

// recovered hands a panic to the configured handler, called from the
// deferred function so the stack still shows where the panic happened.
func (c *config) recovered(ctx context.Context, method string, v any) error {
	if err := c.handle(ctx, &Panic{Method: method, Value: v, Stack: debug.Stack()}); err != nil {
		return err
	}
	return errPanic
}

// statusWriter is the method of gRPC's server transport stream (found in
// the call's context) that ends a call with a status.
type statusWriter interface {
	WriteStatus(*status.Status) error
}

// goexit answers a call whose handler is leaving its goroutine through
// runtime.Goexit. Nothing can stop that, so no error can be returned to
// gRPC, which would otherwise never end the call: the status goes straight
// to the call's transport stream, which gRPC's own deferred clean-up then
// finds ended.
func (c *config) goexit(ctx context.Context, method string) {
	err := c.recovered(ctx, method, ErrGoexit)
	w, ok := grpc.ServerTransportStreamFromContext(ctx).(statusWriter)
	if !ok {
		logger.Errorf("recovery: %s called runtime.Goexit; its transport cannot be given a status, the client waits for its deadline", method)
		return
	}
	if werr := w.WriteStatus(status.Convert(err)); werr != nil {
		logger.Errorf("recovery: %s called runtime.Goexit; writing its status: %v", method, werr)
	}
}

// logPanic is the default HandlerFunc.
func logPanic(_ context.Context, p *Panic) error {
	logger.Errorf("recovery: %s panicked: %v\n%s", p.Method, p.Value, p.Stack)
	return errPanic
}
