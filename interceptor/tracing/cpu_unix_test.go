//go:build unix

package tracing_test

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time the process has used. On a machine shared
// with other work it varies less than wall time: cpu-ns/op is the steadier
// figure for comparing the variants (client and server both count).
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
