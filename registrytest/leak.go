package registrytest

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// leakGrace is how long VerifyTestMain lets goroutines wind down after the
// tests: a stopped etcd member's peer HTTP streams close a second or two after
// the member does, longer than goleak's own retries wait.
const leakGrace = 10 * time.Second

// VerifyTestMain runs the package's tests, then fails the run if goroutines
// are left over, as goleak.VerifyTestMain does, but waits up to 10 s for them
// to finish first. Use it in TestMain of packages that stop etcd members.
func VerifyTestMain(m *testing.M, opts ...goleak.Option) {
	code := m.Run()
	if code == 0 {
		if err := waitNoLeaks(opts...); err != nil {
			fmt.Fprintf(os.Stderr, "registrytest: goroutines left after the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

func waitNoLeaks(opts ...goleak.Option) error {
	deadline := time.Now().Add(leakGrace)
	for {
		err := goleak.Find(opts...)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
