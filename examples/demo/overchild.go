package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/grpckit/grpckit/interceptor/stack"
	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// The overloaded backend runs in a process of its own, as every server does
// in production: the server stack's limiter reads its own process's
// scheduling delay, which in the demo's process would be the load
// generator's too, and the generator's own work would be what overloads it.
// The child is the running binary (the demo, or its test binary) started
// with childEnv set to the work per call; it prints its address and serves
// until its standard input closes.
const childEnv = "GRPCKIT_DEMO_OVERLOADED"

// maybeServeOverloaded turns the process into the overloaded backend and
// exits when it is one (childEnv is set); otherwise it returns at once.
// main and TestMain call it first.
func maybeServeOverloaded() {
	v, ok := os.LookupEnv(childEnv)
	if !ok {
		return
	}
	if err := serveOverloaded(v, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "overloaded backend:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serveOverloaded serves a greeter doing work (a time.Duration) of CPU work
// per call behind the default server stack, writing its address to out,
// until in closes.
func serveOverloaded(work string, in io.Reader, out io.Writer) error {
	d, err := time.ParseDuration(work)
	if err != nil {
		return err
	}
	opts, err := stack.Server() // the default: adaptive shedding, nothing configured
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	g := greeter.New(kitresolver.Instance{ID: overloadedID, Service: "greeter", Addr: lis.Addr().String()})
	g.SetWork(d)
	srv := grpc.NewServer(opts...)
	greeterv1.RegisterGreeterServer(srv, g)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	if _, err := fmt.Fprintln(out, lis.Addr()); err != nil {
		srv.Stop()
		return err
	}
	_, _ = io.Copy(io.Discard, in) // until the parent closes it, or exits
	srv.Stop()
	<-served
	return nil
}

// overloadedChild is a running overloaded backend.
type overloadedChild struct {
	cmd   *exec.Cmd
	stdin io.Closer
	addr  string
}

// startOverloaded starts the overloaded backend's process.
func startOverloaded(work time.Duration) (*overloadedChild, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	// One CPU: the other is left to the load generator, so that what
	// overloads the backend is the calls, not the generator's own work.
	cmd.Env = append(os.Environ(), childEnv+"="+work.String(), "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &overloadedChild{cmd: cmd, stdin: stdin}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("demo: the overloaded backend did not start: %w", err)
	}
	c.addr = strings.TrimSpace(line)
	return c, nil
}

// stop ends the child and waits for it.
func (c *overloadedChild) stop() {
	c.stdin.Close()
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
}
