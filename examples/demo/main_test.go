package main

import (
	"testing"

	"github.com/grpckit/grpckit/registrytest"
)

func TestMain(m *testing.M) {
	maybeServeOverloaded() // the test binary is the overloaded backend's process too
	registrytest.VerifyTestMain(m)
}
