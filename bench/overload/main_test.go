package overload

import (
	"testing"

	"go.uber.org/goleak"
)

// aegis samples the CPU from goroutines its packages' init functions start.
func TestMain(m *testing.M) {
	MaybeServe() // the test binary is the servers' child process too
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/go-kratos/aegis/ratelimit/bbr.cpuproc"),
		goleak.IgnoreTopFunction("github.com/go-kratos/aegis/internal/cpu.init.0.func1"))
}
