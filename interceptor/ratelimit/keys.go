package ratelimit

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"unsafe"

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
// its own limit; IPv6 callers are grouped by /64 ("2001:db8:1:2::/64"), the
// block one host or site usually holds, so that one machine cannot take a
// fresh budget for each of its 2^64 addresses. It is for server
// interceptors; on a client, where the peer is not known before the call,
// every request gets the global key.
func KeyPeer(ctx context.Context, _ string) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	if a, ok := p.Addr.(*net.TCPAddr); ok {
		return peerHosts.host(a)
	}
	return peerHost(p.Addr)
}

func peerHost(a net.Addr) string {
	addr := a.String()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// peerHosts remembers the host string of recent peer addresses. gRPC gives
// every RPC of a connection the same *net.TCPAddr, so a small cache keyed by
// that pointer turns the two allocations of formatting the address into a
// load per RPC. It is direct-mapped: a collision only costs a new String.
var peerHosts hostCache

const hostCacheSize = 256 // a power of two

type hostCache struct {
	slots [hostCacheSize]atomic.Pointer[hostEntry]
}

type hostEntry struct {
	addr *net.TCPAddr
	host string
}

func (c *hostCache) host(a *net.TCPAddr) string {
	// The pointer only picks a slot; the entry's own pointer is compared, and
	// it keeps its address alive, so a freed address cannot alias it.
	slot := &c.slots[(uintptr(unsafe.Pointer(a))>>4)%hostCacheSize]
	if e := slot.Load(); e != nil && e.addr == a {
		return e.host
	}
	h := tcpPeerKey(a)
	slot.Store(&hostEntry{addr: a, host: h})
	return h
}

// tcpPeerKey returns a's IP address, or for IPv6 (but loopback) its /64.
func tcpPeerKey(a *net.TCPAddr) string {
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok {
		return peerHost(a)
	}
	ip = ip.Unmap()
	if ip.Is4() || ip.IsLoopback() {
		return ip.String()
	}
	p, _ := ip.WithZone("").Prefix(64)
	return p.String()
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
