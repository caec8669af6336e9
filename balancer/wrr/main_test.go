package wrr

import (
	"testing"

	"github.com/grpckit/grpckit/registrytest"
)

// TestMain checks for leaked goroutines with goleak, giving embedded etcd's
// streams the few seconds they take to close.
func TestMain(m *testing.M) { registrytest.VerifyTestMain(m) }
