package registrytest

import (
	"fmt"
	"net"
)

// freePorts reserves n distinct free TCP ports on 127.0.0.1. The ports are
// released before returning, so another process could take one in between;
// on loopback in tests that window is small enough.
func freePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("registrytest: reserving a port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
