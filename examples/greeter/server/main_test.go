package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/grpckit/grpckit/registrytest"
)

func TestMain(m *testing.M) {
	registrytest.VerifyTestMain(m)
}

// build compiles the command in dir into t's temporary directory as name.
func build(ctx context.Context, t *testing.T, dir, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, dir).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", dir, err, out)
	}
	return bin
}

var servingLine = regexp.MustCompile(`serving on (\S+),`)

// startServer runs the server binary and returns its address once it says
// it is serving.
func startServer(ctx context.Context, t *testing.T, bin string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if m := servingLine.FindStringSubmatch(lines.Text()); m != nil {
			go func() { // keep draining, so the server never blocks on stdout
				for lines.Scan() {
				}
			}()
			return cmd, m[1]
		}
	}
	t.Fatalf("the server exited before serving: %v", cmd.Wait())
	return nil, ""
}

// TestServerAndClient runs the example server and client binaries against an
// embedded etcd: the server registers, grpcurl lists and calls it through
// reflection, the client's calls reach it, and SIGTERM deregisters it and
// exits cleanly.
func TestServerAndClient(t *testing.T) {
	grpcurl, err := exec.LookPath("grpcurl")
	if err != nil {
		t.Fatalf("grpcurl is needed (make tools installs it into the cache): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	etcd := registrytest.StartEtcd(t)
	cli := etcd.Client(t)
	serverBin, clientBin := build(ctx, t, ".", "server"), build(ctx, t, "../client", "client")

	ep := etcd.Endpoints()[0]
	cmd, addr := startServer(ctx, t, serverBin, "-registry", "etcd", "-registry-addr", ep,
		"-listen", "127.0.0.1:0", "-id", "s1", "-weight", "2", "-zone", "z1")

	resp, err := cli.Get(ctx, "/services/greeter/s1")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("registration /services/greeter/s1: %v, %d keys", err, len(resp.Kvs))
	}
	var reg struct {
		Addr   string `json:"addr"`
		Weight uint32 `json:"weight"`
		Zone   string `json:"zone"`
	}
	if err := json.Unmarshal(resp.Kvs[0].Value, &reg); err != nil || reg.Addr != addr || reg.Weight != 2 || reg.Zone != "z1" {
		t.Errorf("registered value %s (%v), want addr %s, weight 2, zone z1", resp.Kvs[0].Value, err, addr)
	}

	list, err := exec.CommandContext(ctx, grpcurl, "-plaintext", addr, "list").CombinedOutput()
	if err != nil {
		t.Fatalf("grpcurl list: %v\n%s", err, list)
	}
	for _, svc := range []string{"greeter.v1.Greeter", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.channelz.v1.Channelz"} {
		if !strings.Contains(string(list), svc) {
			t.Errorf("grpcurl list does not show %s:\n%s", svc, list)
		}
	}
	hello, err := exec.CommandContext(ctx, grpcurl, "-plaintext", "-d", `{"name":"grpcurl"}`, addr, "greeter.v1.Greeter/SayHello").CombinedOutput()
	if err != nil {
		t.Fatalf("grpcurl SayHello: %v\n%s", err, hello)
	}
	if !strings.Contains(string(hello), "Hello, grpcurl!") || !strings.Contains(string(hello), `"s1"`) {
		t.Errorf("grpcurl SayHello answered %s, want a greeting for grpcurl from s1", hello)
	}

	// channelz answers for the server, as grpcdebug would ask it.
	servers, err := exec.CommandContext(ctx, grpcurl, "-plaintext", "-d", `{}`, addr, "grpc.channelz.v1.Channelz/GetServers").CombinedOutput()
	if err != nil {
		t.Fatalf("grpcurl channelz GetServers: %v\n%s", err, servers)
	}
	if !strings.Contains(string(servers), `"listenSocket"`) || !strings.Contains(string(servers), `"callsSucceeded"`) {
		t.Errorf("channelz GetServers answered %s, want a server with its listen socket and the call just made", servers)
	}

	out, err := exec.CommandContext(ctx, clientBin, "-registry", "etcd", "-registry-addr", ep, "-n", "3", "-interval", "10ms").CombinedOutput()
	if err != nil {
		t.Fatalf("client: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "answered by s1 ("+addr); n != 3 {
		t.Errorf("client: %d of 3 calls answered by s1 at %s:\n%s", n, addr, out)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the server exited with %v after SIGTERM, want success", err)
		}
	case <-ctx.Done():
		t.Fatal("the server did not exit after SIGTERM")
	}
	if resp, err := cli.Get(ctx, "/services/greeter/s1"); err != nil || len(resp.Kvs) != 0 {
		t.Errorf("after SIGTERM, /services/greeter/s1: %v, %d keys, want deregistered", err, len(resp.Kvs))
	}
}
