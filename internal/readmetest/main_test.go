package readmetest

import (
	"testing"

	"github.com/grpckit/grpckit/registrytest"
)

func TestMain(m *testing.M) {
	registrytest.VerifyTestMain(m)
}
