package shedding

import (
	"context"
	"math"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/interceptor/ratelimit"
)

var logger = grpclog.Component("grpckit-shedding")

// UnaryServerInterceptor sheds unary calls with l when the server is
// overloaded; a nil l is New() (give StreamServerInterceptor the same
// Limiter instead, so that calls and streams share the capacity). A shed
// call fails with codes.ResourceExhausted naming the method, with the
// grpc-retry-pushback-ms trailer (ratelimit.PushbackTrailer) set to the
// latency the server shows now, at most a second. Health checks and
// reflection are never shed.
func UnaryServerInterceptor(l *Limiter) grpc.UnaryServerInterceptor {
	return WrapUnary(l, callHandler)
}

// WrapUnary is UnaryServerInterceptor(l) running inner between the limiter
// and the handler, linked without the closure per call that gRPC's chain
// allocates. A nil inner calls the handler.
func WrapUnary(l *Limiter, inner grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	if l == nil {
		l = New()
	}
	if inner == nil {
		inner = callHandler
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if neverShed(info.FullMethod) {
			return inner(ctx, req, info, handler)
		}
		start := l.now()
		if !l.allow(ctx, start) {
			d, err := l.reject(info.FullMethod)
			_ = grpc.SetTrailer(ctx, pushbackMD(d))
			return nil, err
		}
		l.start()
		defer func() { l.end(start, l.now()) }()
		return inner(ctx, req, info, handler)
	}
}

// StreamServerInterceptor sheds streams with l when they open, like
// UnaryServerInterceptor: a stream counts as one call when it opens, and
// once admitted it is never cut short. A nil l is New(), which then shares
// nothing with the unary calls: give both interceptors the same Limiter.
func StreamServerInterceptor(l *Limiter) grpc.StreamServerInterceptor {
	return WrapStream(l, callStreamHandler)
}

// WrapStream is StreamServerInterceptor(l) running inner between the
// limiter and the handler, as WrapUnary does. A nil inner calls the handler.
func WrapStream(l *Limiter, inner grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	if l == nil {
		l = New()
	}
	if inner == nil {
		inner = callStreamHandler
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if neverShed(info.FullMethod) {
			return inner(srv, ss, info, handler)
		}
		if !l.allow(ss.Context(), l.now()) {
			d, err := l.reject(info.FullMethod)
			ss.SetTrailer(pushbackMD(d))
			return err
		}
		l.start()
		l.opened()
		defer l.endStream()
		return inner(srv, ss, info, handler)
	}
}

func callHandler(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	return handler(ctx, req)
}

func callStreamHandler(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, ss)
}

// allow decides on a call arriving at now; its criticality is read only
// while the limiter sheds, and only when it decides. While it sheds, a call whose context has already
// ended (its deadline passed while it queued for a CPU) is refused without
// taking a turn from a call that can still succeed.
func (l *Limiter) allow(ctx context.Context, now int64) bool {
	if now >= l.windowEnd.Load() {
		l.closeWindow(now)
	}
	if l.interval.Load() == 0 {
		return true
	}
	if ctx.Err() != nil {
		return false
	}
	return l.admitFrom(ctx, now, unknownCriticality)
}

// reject counts a shed call of method and returns its pushback and status.
func (l *Limiter) reject(method string) (time.Duration, error) {
	d := l.shedCall()
	if logger.V(2) {
		logger.Infof("shedding: %s shed, retry in %v", method, d)
	}
	return d, status.Errorf(codes.ResourceExhausted, "shedding: %s shed: the server is overloaded, retry in %v", method, d)
}

// pushbackMD is the trailer that asks the client to wait d before retrying,
// in whole milliseconds rounded up, at least 1, as package ratelimit sends
// it.
func pushbackMD(d time.Duration) metadata.MD {
	ms := max(int64(math.Ceil(float64(d)/float64(time.Millisecond))), 1)
	return metadata.Pairs(ratelimit.PushbackTrailer, strconv.FormatInt(ms, 10))
}
