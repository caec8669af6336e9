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
		{"peer v6", KeyPeer, v6Peer, "::1"},
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
