package ratelimit

import (
	"context"
	"net"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// KeyFunc groups requests: requests with the same key share a limit. It gets
// the request's context and full method name ("/pkg.Service/Method"). The key
// "" is the global key.
type KeyFunc func(ctx context.Context, fullMethod string) string

// KeyGlobal puts every request under one key: one limit for all.
func KeyGlobal(context.Context, string) string { return "" }

// KeyMethod gives each method its own limit.
func KeyMethod(_ context.Context, fullMethod string) string { return fullMethod }

// KeyPeer gives each caller host (the peer's IP address, without the port)
// its own limit. It is for server interceptors; on a client, where the peer
// is not known before the call, every request gets the global key.
func KeyPeer(ctx context.Context, _ string) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	addr := p.Addr.String()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// KeyMetadata gives each value of the metadata header name (an API key, a
// tenant) its own limit: the first value in the incoming metadata on a
// server, in the outgoing metadata on a client. Requests without the header
// share the global key. The key never leaves the limiter: it is not logged
// nor put on spans.
func KeyMetadata(name string) KeyFunc {
	return func(ctx context.Context, _ string) string {
		if v := metadata.ValueFromIncomingContext(ctx, name); len(v) > 0 {
			return v[0]
		}
		if md, ok := metadata.FromOutgoingContext(ctx); ok {
			if v := md.Get(name); len(v) > 0 {
				return v[0]
			}
		}
		return ""
	}
}
