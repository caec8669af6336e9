package breaker

import (
	"net"
	"testing"
)

// TestPeerIDTellsBackendsApart: every pair of distinct backend addresses
// gets distinct ids (same host on other ports, IPv4 and its mapped IPv6
// form alike, link-local IPv6 on different zones, unix sockets), and an
// address gets the same id whatever form it comes in.
func TestPeerIDTellsBackendsApart(t *testing.T) {
	distinct := []net.Addr{
		&net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 50051},
		&net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 50052},
		&net.TCPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 50051},
		&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 50051},
		&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 50051, Zone: "eth0"},
		&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 50051, Zone: "eth1"},
		&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 50051},
		&net.UnixAddr{Name: "/run/a.sock", Net: "unix"},
		&net.UnixAddr{Name: "/run/b.sock", Net: "unix"},
	}
	seen := map[uint64]net.Addr{}
	for _, a := range distinct {
		id := peerID(a)
		if b, ok := seen[id]; ok {
			t.Errorf("peerID(%v) = peerID(%v)", a, b)
		}
		seen[id] = a
	}
	v4 := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1).To4(), Port: 50051}
	mapped := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1).To16(), Port: 50051}
	if peerID(v4) != peerID(mapped) {
		t.Errorf("peerID(%v) differs between its 4- and 16-byte forms", v4)
	}
}
