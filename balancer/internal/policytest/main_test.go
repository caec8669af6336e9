package policytest

import (
	"testing"

	"github.com/grpckit/grpckit/registrytest"
)

// TestMain checks for leaked goroutines with goleak.
func TestMain(m *testing.M) { registrytest.VerifyTestMain(m) }
