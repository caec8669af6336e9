package readmetest

import (
	"bufio"
	"context"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/grpckit/grpckit/registrytest"
)

// readme is the README's path from this package's directory.
const readme = "../../README.md"

// readmeSnippets returns the README's snippets by name.
func readmeSnippets(t *testing.T) map[string]Snippet {
	t.Helper()
	md, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	list, err := Extract(string(md))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Snippet{}
	for _, s := range list {
		byName[s.Name] = s
	}
	return byName
}

// TestREADMESnippetsAreGofmted checks that what a reader copies is gofmt'ed
// and a whole program.
func TestREADMESnippetsAreGofmted(t *testing.T) {
	for name, s := range readmeSnippets(t) {
		got, err := format.Source([]byte(s.Code))
		if err != nil {
			t.Errorf("snippet %s (README.md:%d): %v", name, s.Line, err)
			continue
		}
		if string(got) != s.Code {
			line, want := firstDiff(s.Code, string(got))
			t.Errorf("snippet %s is not gofmt'ed: README.md:%d reads\n\t%q\ngofmt makes it\n\t%q", name, s.Line+line, line0(s.Code, line), want)
		}
		if !regexp.MustCompile(`(?m)^package main$`).MatchString(s.Code) {
			t.Errorf("snippet %s (README.md:%d) is not a main package: a reader cannot run it as it is", name, s.Line)
		}
	}
}

// build vets and compiles the snippets, each as a main package of this
// module in a temporary directory under testdata (which ./... patterns skip),
// into binaries in t's temporary directory, and returns that directory.
// Errors name README.md lines.
func build(ctx context.Context, t *testing.T, snippets map[string]Snippet) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	mdPath, err := filepath.Abs(readme)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("testdata", "snippets-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.RemoveAll(dir)
		os.Remove("testdata") // if no other run uses it
	})
	var pkgs []string
	for name, s := range snippets {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "main.go"), []byte(s.File(mdPath)), 0o644); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, "./"+filepath.ToSlash(filepath.Join("internal/readmetest", dir, name)))
	}
	bin := filepath.Join(t.TempDir(), "bin")
	for _, args := range [][]string{{"vet"}, {"build", "-o", bin + string(filepath.Separator)}} {
		cmd := exec.CommandContext(ctx, "go", append(args, pkgs...)...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s of the README's Go snippets: %v\n%s", args[0], err, out)
		}
	}
	return bin
}

// TestREADMESnippets builds every snippet of the README, then runs the
// quickstart's servers and clients against an embedded etcd and a Consul
// agent: the server registers, the client's calls reach it through the
// registry and its balancer, and SIGTERM deregisters it and exits cleanly.
func TestREADMESnippets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	snippets := readmeSnippets(t)
	for _, name := range []string{"etcd-server", "etcd-client", "consul-server", "consul-client"} {
		if _, ok := snippets[name]; !ok {
			t.Fatalf("the README has no snippet %q", name)
		}
	}
	bin := build(ctx, t, snippets)

	t.Run("etcd", func(t *testing.T) {
		etcd := registrytest.StartEtcd(t)
		ep := etcd.Endpoints()[0]
		server := startServer(ctx, t, nil, filepath.Join(bin, "etcd-server"), "-etcd", ep, "-listen", "127.0.0.1:0")
		runClient(ctx, t, nil, filepath.Join(bin, "etcd-client"), "-etcd", ep)
		stopServer(ctx, t, server)
		cli := etcd.Client(t)
		resp, err := cli.Get(ctx, "/services/greeter/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil || resp.Count != 0 {
			t.Errorf("after SIGTERM, keys under /services/greeter/: %v, %v; want none", resp, err)
		}
	})
	t.Run("consul", func(t *testing.T) {
		agent := registrytest.StartConsul(t)
		env := []string{"CONSUL_HTTP_ADDR=" + agent.Addr()}
		server := startServer(ctx, t, env, filepath.Join(bin, "consul-server"), "-listen", "127.0.0.1:0")
		// Clients see the instance once its gRPC check passes.
		health := agent.Client().Health()
		waitFor(ctx, t, "the greeter to pass its check", func() bool {
			entries, _, err := health.Service("greeter", "", true, nil)
			return err == nil && len(entries) == 1
		})
		runClient(ctx, t, env, filepath.Join(bin, "consul-client"))
		stopServer(ctx, t, server)
		services, err := agent.Client().Agent().Services()
		if err != nil {
			t.Fatal(err)
		}
		for id, s := range services {
			if s.Service == "greeter" {
				t.Errorf("after SIGTERM, the agent still holds %s", id)
			}
		}
	})
}

// servingWithin bounds the time from a server snippet's start to its line
// saying it serves.
const servingWithin = time.Minute

type server struct {
	cmd  *exec.Cmd
	done chan error // the command's exit
}

// startServer runs a server snippet with env added to the environment and
// returns once it logs that it serves.
func startServer(ctx context.Context, t *testing.T, env []string, bin string, args ...string) *server {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, done: make(chan error, 1)}
	serving := make(chan struct{})
	var log strings.Builder // written by the reader below until the command exits
	go func() {
		lines, said := bufio.NewScanner(stderr), false
		for lines.Scan() {
			log.WriteString(lines.Text() + "\n")
			if !said && strings.Contains(lines.Text(), "greeter serving on ") {
				close(serving)
				said = true
			}
		}
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
		if t.Failed() {
			t.Logf("%s's log:\n%s", filepath.Base(bin), log.String())
		}
	})
	select {
	case <-serving:
	case err := <-s.done:
		s.done <- err
		t.Fatalf("%s exited before serving: %v", filepath.Base(bin), err)
	case <-time.After(servingWithin):
		t.Fatalf("%s did not log %q within %v", filepath.Base(bin), "greeter serving on ", servingWithin)
	}
	return s
}

// stopServer sends SIGTERM and waits for a clean exit.
func stopServer(ctx context.Context, t *testing.T, s *server) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			t.Errorf("the server exited with %v after SIGTERM, want success", err)
		}
	case <-ctx.Done():
		t.Fatal("the server did not exit after SIGTERM")
	}
}

// runClient runs a client snippet and checks that its three calls were
// answered.
func runClient(ctx context.Context, t *testing.T, env []string, bin string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", filepath.Base(bin), err, out)
	}
	if n := strings.Count(string(out), "Hello, you!"); n != 3 {
		t.Errorf("%s: %d greetings, want 3:\n%s", filepath.Base(bin), n, out)
	}
}

// waitFor polls cond until it holds, failing the test when ctx ends first.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// firstDiff returns the index of the first line where a and b differ, and
// that line of b.
func firstDiff(a, b string) (int, string) {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range bl {
		if i >= len(al) || al[i] != bl[i] {
			return i, bl[i]
		}
	}
	return len(bl), ""
}

// line0 returns line i of s, counting from 0.
func line0(s string, i int) string {
	if lines := strings.Split(s, "\n"); i < len(lines) {
		return lines[i]
	}
	return ""
}

// lbPolicyDial matches a typed load-balancing policy passed as a dial option:
// lbconfig.Must(p2c.Policy(...)).DialOption().
var lbPolicyDial = regexp.MustCompile(`lbconfig\.Must\(\w+\.Policy\([^\n]*\)\)\.DialOption\(\)`)

// TestREADMESnippetsAreSafe checks the patterns a reader would copy: every
// client of a registry target names a load-balancing policy (pick_first would
// send all its calls to one instance), no Deregister runs on an unbounded
// context, every server that registers serves grpc.health.v1 and says
// SERVING, and shuts down in order: out of the registry, then GracefulStop.
func TestREADMESnippetsAreSafe(t *testing.T) {
	for name, s := range readmeSnippets(t) {
		code := s.Code
		if regexp.MustCompile(`grpc\.NewClient\("(etcd|consul):`).MatchString(code) && !strings.Contains(code, `"loadBalancingConfig"`) && !lbPolicyDial.MatchString(code) {
			t.Errorf("snippet %s (README.md:%d) dials a registry target without a loadBalancingConfig", name, s.Line)
		}
		if regexp.MustCompile(`Deregister\(context\.(Background|TODO)\(\)\)`).MatchString(code) {
			t.Errorf("snippet %s (README.md:%d) deregisters with an unbounded context", name, s.Line)
		}
		if !regexp.MustCompile(`(etcd|consul)\.Register\(`).MatchString(code) {
			continue
		}
		for _, want := range []string{"RegisterHealthServer(", "_SERVING)"} {
			if !strings.Contains(code, want) && !(want == "_SERVING)" && strings.Contains(code, "kitresolver.SetServing(")) {
				t.Errorf("snippet %s (README.md:%d) registers a server without %s", name, s.Line, want)
			}
		}
		leave := strings.Index(code, ".Deregister(")
		if i := strings.Index(code, ".Drain("); leave < 0 || i >= 0 && i < leave {
			leave = i
		}
		if stop := strings.Index(code, ".GracefulStop()"); leave < 0 || stop < leave {
			t.Errorf("snippet %s (README.md:%d) does not leave the registry (Deregister or Drain) before GracefulStop", name, s.Line)
		}
	}
}
