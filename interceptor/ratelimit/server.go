package ratelimit

import (
	"context"

	"google.golang.org/grpc"
)

// UnaryServerInterceptor limits unary calls with l under the key of
// WithKey (default: one global key). A nil l is a global token bucket of
// DefaultRate and DefaultBurst. A rejected call fails with
// codes.ResourceExhausted naming the method, and the PushbackTrailer says
// when to retry. With WithWait the call waits for the limiter instead, up to
// its deadline.
func UnaryServerInterceptor(l Limiter, opts ...Option) grpc.UnaryServerInterceptor {
	g := newGate(l, opts, false)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		key := g.o.key(ctx, info.FullMethod)
		if d, err := g.admit(ctx, g.l, key, info.FullMethod); err != nil {
			if d > 0 {
				_ = grpc.SetTrailer(ctx, pushbackMD(d))
			}
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor limits streams with l when they open, like
// UnaryServerInterceptor; with WithPerMessage every received message is
// limited too, and a rejected message ends the stream with
// codes.ResourceExhausted.
func StreamServerInterceptor(l Limiter, opts ...Option) grpc.StreamServerInterceptor {
	g := newGate(l, opts, false)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := ss.Context()
		key := g.o.key(ctx, info.FullMethod)
		if err := g.admitStream(ss, g.l, key, info.FullMethod); err != nil {
			return err
		}
		if g.o.perMessage != nil {
			ss = &serverStream{ServerStream: ss, g: g, key: key, method: info.FullMethod}
		}
		return handler(srv, ss)
	}
}

// admitStream is admit for a server stream, setting the pushback trailer
// on rejection.
func (g *gate) admitStream(ss grpc.ServerStream, l Limiter, key, method string) error {
	d, err := g.admit(ss.Context(), l, key, method)
	if err != nil && d > 0 {
		ss.SetTrailer(pushbackMD(d))
	}
	return err
}

// serverStream limits the messages a server stream receives.
type serverStream struct {
	grpc.ServerStream
	g      *gate
	key    string
	method string
}

// RecvMsg receives a message, then admits it (or waits for it to be
// admitted): a stream is not failed for a message its client never sends.
func (s *serverStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return s.g.admitStream(s.ServerStream, s.g.o.perMessage, s.key, s.method)
}
