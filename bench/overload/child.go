package overload

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/grpckit/grpckit/interceptor/shedding"
)

// The server runs in a child process, so that the load generator's
// goroutines do not share its Go scheduler: grpckit's limiter reads the
// scheduler's queueing delay, which in one process would be the client's
// too. The child is the running binary itself (the command, or the test
// binary), started with childEnv set to its configuration; it serves until
// its standard input closes, doubling its cost on a "double" line, setting
// its token bucket's rate on a "rate <calls/s>" line, and answering a
// "stats" line with its limiter's Stats as a JSON line.
const childEnv = "GRPCKIT_OVERLOAD_SERVER"

// MaybeServe turns the process into an overload server and exits when it is
// one (childEnv is set); otherwise it returns at once. Call it first in main
// and TestMain.
func MaybeServe() {
	cfg, ok := os.LookupEnv(childEnv)
	if !ok {
		return
	}
	if err := serveChild(cfg, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "overload server:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serveChild runs a server configured by cfg ("protection|iters|chunk|capacity")
// until in closes, writing its address and then the answers to out.
func serveChild(cfg string, in io.Reader, out io.Writer) error {
	f := strings.Split(cfg, "|")
	if len(f) != 4 {
		return fmt.Errorf("bad configuration %q", cfg)
	}
	iters, err1 := strconv.ParseInt(f[1], 10, 64)
	chunk, err2 := strconv.ParseInt(f[2], 10, 64)
	capacity, err3 := strconv.ParseFloat(f[3], 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return err
	}
	s, err := serve(f[0], iters, chunk, capacity)
	if err != nil {
		return err
	}
	defer s.grpc.Stop()
	w := bufio.NewWriter(out)
	fmt.Fprintln(w, s.addr)
	if err := w.Flush(); err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		switch line := sc.Text(); {
		case line == "double":
			s.iters.Store(2 * s.iters.Load())
		case strings.HasPrefix(line, "rate ") && s.bucket != nil:
			r, err := strconv.ParseFloat(strings.TrimPrefix(line, "rate "), 64)
			if err == nil {
				err = s.bucket.setRate(r)
			}
			if err != nil {
				return err
			}
		case line == "stats":
			var st shedding.Stats
			if s.limiter != nil {
				st = s.limiter.Stats()
			}
			b, _ := json.Marshal(st)
			fmt.Fprintln(w, string(b))
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	return sc.Err()
}

// child is a server running in a child process.
type child struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	addr string
}

func startChild(protection string, iters, chunk int64, capacity float64) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%d|%d|%g", childEnv, protection, iters, chunk, capacity))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, in: in, out: bufio.NewScanner(outPipe)}
	if !c.out.Scan() {
		c.stop()
		return nil, fmt.Errorf("overload: the %s server did not start: %v", protection, c.out.Err())
	}
	c.addr = c.out.Text()
	return c, nil
}

// double doubles the server's cost per call.
func (c *child) double() error {
	_, err := io.WriteString(c.in, "double\n")
	return err
}

// setRate sets the server's token bucket, if it has one, to r calls per
// second.
func (c *child) setRate(r float64) error {
	_, err := fmt.Fprintf(c.in, "rate %g\n", r)
	return err
}

// stats returns the server's limiter's Stats (zero without one).
func (c *child) stats() (shedding.Stats, error) {
	var st shedding.Stats
	if _, err := io.WriteString(c.in, "stats\n"); err != nil {
		return st, err
	}
	if !c.out.Scan() {
		return st, fmt.Errorf("overload: no stats from the server: %v", c.out.Err())
	}
	return st, json.Unmarshal(c.out.Bytes(), &st)
}

// stop closes the server's input, which stops it, and waits for it to exit,
// killing it after a few seconds.
func (c *child) stop() {
	_ = c.in.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}
