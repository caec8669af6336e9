package registrytest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
)

// freePorts reserves n distinct free TCP ports on 127.0.0.1. The ports are
// released before returning, so another process could take one in between;
// on loopback in tests that window is small enough.
//
// The ports are drawn outside the kernel's ephemeral range, from which
// outgoing connections get their local ports: a member stopped and restarted
// on its port must find it free, and in the ephemeral range a client's
// connection may have taken it meanwhile.
func freePorts(n int) ([]int, error) {
	lo, hi := listenRange()
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		addr := "127.0.0.1:0"
		if hi > lo && tries < 1000 {
			addr = fmt.Sprintf("127.0.0.1:%d", lo+rand.IntN(hi-lo))
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			if addr == "127.0.0.1:0" {
				return nil, fmt.Errorf("registrytest: reserving a port: %w", err)
			}
			continue // taken: draw again
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// listenRange returns the ports [lo, hi) to draw from: below the ephemeral
// range if there is room there, else above it; lo == hi when neither has
// room, and the kernel picks.
func listenRange() (lo, hi int) {
	eLo, eHi := 32768, 60999 // Linux's default
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		fmt.Sscan(string(b), &eLo, &eHi)
	}
	switch {
	case eLo >= 12000:
		return 10000, eLo
	case eHi <= 63535:
		return eHi + 1, 65536
	}
	return 0, 0
}
