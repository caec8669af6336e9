//go:build !linux

package registrytest

import "os/exec"

// dieWithParent does nothing where the kernel offers no parent-death signal:
// an agent outlives a test process that is killed, and Stop must be called
// (registrytest's own cleanup does).
func dieWithParent(*exec.Cmd) {}
