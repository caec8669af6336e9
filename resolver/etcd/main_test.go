package etcd

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

// etcdSettleTime bounds how long the embedded etcd members' peer connections
// may take to wind down after a member stops (they end at etcd's read
// timeouts); goroutines of this package end at Close or Deregister.
const etcdSettleTime = 15 * time.Second

// settle runs the tests, then waits until no stray goroutine is left or
// etcdSettleTime passes, before goleak checks strictly.
type settle struct{ m *testing.M }

func (s settle) Run() int {
	code := s.m.Run()
	deadline := time.Now().Add(etcdSettleTime)
	for goleak.Find() != nil && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	return code
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(settle{m}) }
