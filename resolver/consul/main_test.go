package consul_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/grpc/grpclog"

	"github.com/grpckit/grpckit/registrytest"
)

// agent is the Consul agent the package's tests share.
var agent *registrytest.ConsulAgent

// logs captures everything logged through grpclog at verbosity 2, so tests
// can check that no secret was logged.
var logs syncBuffer

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// withAgent runs the tests with the shared agent up, and stops it before
// goleak looks for leaked goroutines.
type withAgent struct{ m *testing.M }

func (w withAgent) Run() int {
	dir, err := os.MkdirTemp("", "consul-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	agent, err = registrytest.NewConsulAgent(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer agent.Close()
	return w.m.Run()
}

func TestMain(m *testing.M) {
	grpclog.SetLoggerV2(grpclog.NewLoggerV2WithVerbosity(&logs, io.MultiWriter(&logs, os.Stderr), io.MultiWriter(&logs, os.Stderr), 2))
	goleak.VerifyTestMain(withAgent{m})
}
