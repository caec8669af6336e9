package recovery

import (
	"context"
	"runtime/debug"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/status"
)

var logger = grpclog.Component("grpckit-recovery")

// errPanic is what the client of a panicking handler gets by default.
var errPanic = status.Error(codes.Internal, "internal error")

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
		defer func() {
			if v := recover(); v != nil {
				resp, err = nil, c.recovered(ctx, info.FullMethod, v)
			}
		}()
		return inner(ctx, req, info, handler)
	}
}

// WrapStream is WrapUnary for streams.
func WrapStream(inner grpc.StreamServerInterceptor, opts ...Option) grpc.StreamServerInterceptor {
	c := newConfig(opts)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if v := recover(); v != nil {
				err = c.recovered(ss.Context(), info.FullMethod, v)
			}
		}()
		return inner(srv, ss, info, handler)
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

// logPanic is the default HandlerFunc.
func logPanic(_ context.Context, p *Panic) error {
	logger.Errorf("recovery: %s panicked: %v\n%s", p.Method, p.Value, p.Stack)
	return errPanic
}
