package report

import (
	"testing"

	"go.uber.org/goleak"
)

// The overload results' types come from packages that import aegis, which
// samples the CPU from goroutines its init functions start.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/go-kratos/aegis/ratelimit/bbr.cpuproc"),
		goleak.IgnoreTopFunction("github.com/go-kratos/aegis/internal/cpu.init.0.func1"))
}
