package debugz

import (
	"testing"

	"github.com/grpckit/grpckit/registrytest"
)

// TestMain fails the package if goroutines are left after its tests (a
// channel closed with its resolver or balancer still running, say), waiting
// out the grace registrytest allows embedded etcd to wind down.
func TestMain(m *testing.M) { registrytest.VerifyTestMain(m) }
