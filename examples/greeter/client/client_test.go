package main

import (
	"strings"
	"testing"
)

// TestUnknownBalancerFailsFirst checks that a -balancer the builders do not
// know is refused before the client sets up a registry.
func TestUnknownBalancerFailsFirst(t *testing.T) {
	err := run([]string{"-balancer", "random", "-registry", "etcd", "-registry-addr", "127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), `greeterapp: unknown balancer "random"`) {
		t.Fatalf("run error %v, want the unknown balancer named", err)
	}
}
