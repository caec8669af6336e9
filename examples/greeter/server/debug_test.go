package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/grpckit/grpckit/debugz"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	"github.com/grpckit/grpckit/registrytest"
)

var debugLine = regexp.MustCompile(`debug page on (\S+)`)

// TestDebugFlag runs the server with -debug and a per-peer limit of one
// call: the page it prints the address of shows the limiter's admission and
// rejections.
func TestDebugFlag(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	etcd := registrytest.StartEtcd(t)
	bin := build(ctx, t, ".", "server")
	cmd := exec.CommandContext(ctx, bin, "-registry", "etcd", "-registry-addr", etcd.Endpoints()[0],
		"-listen", "127.0.0.1:0", "-id", "d1", "-rate", "0.001", "-burst", "1", "-debug", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var url, addr string
	lines := bufio.NewScanner(stdout)
	for addr == "" && lines.Scan() {
		if m := debugLine.FindStringSubmatch(lines.Text()); m != nil {
			url = m[1]
		}
		if m := servingLine.FindStringSubmatch(lines.Text()); m != nil {
			addr = m[1]
		}
	}
	if url == "" || addr == "" {
		t.Fatalf("no debug page (%q) or serving address (%q) printed: %v", url, addr, lines.Err())
	}
	go func() {
		for lines.Scan() {
		}
	}()

	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	for range 3 {
		greeterv1.NewGreeterClient(cc).SayHello(ctx, &greeterv1.SayHelloRequest{Name: "x"})
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"?format=json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if err != nil {
		t.Fatal(err)
	}
	var rep debugz.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if len(rep.Limiters) != 1 || rep.Limiters[0].Admitted != 1 || rep.Limiters[0].Rejected != 2 || len(rep.Limiters[0].TopKeys) != 1 {
		t.Fatalf("limiters %+v", rep.Limiters)
	}
}
