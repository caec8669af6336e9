package ratelimit

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

func TestKeyFuncs(t *testing.T) {
	const method = "/greeter.v1.Greeter/SayHello"
	bg := context.Background()
	tcpPeer := peer.NewContext(bg, &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP("10.0.0.7"), Port: 51234}})
	v6Peer := peer.NewContext(bg, &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP("::1"), Port: 1}})
	tcp := func(ip string) context.Context {
		return peer.NewContext(bg, &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP(ip), Port: 1}})
	}
	unixPeer := peer.NewContext(bg, &peer.Peer{Addr: &net.UnixAddr{Name: "/tmp/s", Net: "unix"}})
	incoming := metadata.NewIncomingContext(bg, metadata.Pairs("x-api-key", "k1", "x-api-key", "k2"))
	outgoing := metadata.NewOutgoingContext(bg, metadata.Pairs("X-Api-Key", "k3"))
	tests := []struct {
		name string
		f    KeyFunc
		ctx  context.Context
		want string
	}{
		{"global", KeyGlobal, tcpPeer, ""},
		{"method", KeyMethod, bg, method},
		{"peer tcp", KeyPeer, tcpPeer, "10.0.0.7"},
		{"peer v6 loopback", KeyPeer, v6Peer, "::1"},
		{"peer v6 by /64", KeyPeer, tcp("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64"},
		{"peer v6 same /64", KeyPeer, tcp("2001:db8:1:2::1"), "2001:db8:1:2::/64"},
		{"peer v6 other /64", KeyPeer, tcp("2001:db8:1:3::1"), "2001:db8:1:3::/64"},
		{"peer v6 zoned link-local", KeyPeer, peer.NewContext(bg, &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP("fe80::1"), Zone: "eth0", Port: 1}}), "fe80::/64"},
		{"peer v4-mapped", KeyPeer, tcp("::ffff:10.0.0.7"), "10.0.0.7"},
		{"peer unix", KeyPeer, unixPeer, "/tmp/s"},
		{"peer unknown", KeyPeer, bg, ""},
		{"metadata incoming", KeyMetadata("x-api-key"), incoming, "k1"},
		{"metadata outgoing", KeyMetadata("x-api-key"), outgoing, "k3"},
		{"metadata absent", KeyMetadata("x-api-key"), tcpPeer, ""},
	}
	for _, tt := range tests {
		if got := tt.f(tt.ctx, method); got != tt.want {
			t.Errorf("%s: key = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestKeyPeerCache checks that the host cache answers each address with its
// own host, also when many addresses share slots, and that a repeated
// address costs no allocation.
func TestKeyPeerCache(t *testing.T) {
	bg := context.Background()
	ctxs := make([]context.Context, 4*hostCacheSize)
	for i := range ctxs {
		a := &net.TCPAddr{IP: net.IPv4(10, 1, byte(i>>8), byte(i)), Port: 1000 + i}
		ctxs[i] = peer.NewContext(bg, &peer.Peer{Addr: a})
	}
	for round := range 2 {
		for i, ctx := range ctxs {
			want := net.IPv4(10, 1, byte(i>>8), byte(i)).String()
			if got := KeyPeer(ctx, ""); got != want {
				t.Fatalf("round %d, address %d: key = %q, want %q", round, i, got, want)
			}
		}
	}
	ctx := ctxs[0]
	KeyPeer(ctx, "")
	if n := testing.AllocsPerRun(100, func() { KeyPeer(ctx, "") }); n != 0 {
		t.Errorf("KeyPeer on a cached address: %v allocs, want 0", n)
	}
}
