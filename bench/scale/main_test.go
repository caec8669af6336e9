package scale

import (
	"testing"

	"github.com/grpckit/grpckit/registrytest"
)

// TestMain checks for leaked goroutines, giving embedded etcd's streams the
// seconds they take to close.
func TestMain(m *testing.M) { registrytest.VerifyTestMain(m) }
