package registrytest_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/grpckit/grpckit/internal/greeter"
	"github.com/grpckit/grpckit/internal/testutil"
	"github.com/grpckit/grpckit/registrytest"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

func TestConsulGRPCHealthCheck(t *testing.T) {
	agent := registrytest.StartConsul(t)
	cli := agent.Client()
	srv := greeter.Start(t, kitresolver.Instance{Service: "greeter", ID: "g1"})

	host, port := splitHostPort(t, srv.Addr)
	err := cli.Agent().ServiceRegister(&api.AgentServiceRegistration{
		ID: "g1", Name: "greeter", Address: host, Port: port,
		Check: &api.AgentServiceCheck{
			CheckID:  "g1-grpc",
			GRPC:     srv.Addr,
			Interval: "200ms",
			Timeout:  "1s",
		},
	})
	if err != nil {
		t.Fatalf("ServiceRegister: %v", err)
	}
	waitCheck(t, cli, "g1-grpc", api.HealthPassing)

	srv.Stop()
	waitCheck(t, cli, "g1-grpc", api.HealthCritical)
}

func TestConsulRestartForgetsServices(t *testing.T) {
	agent := registrytest.StartConsul(t)
	cli := agent.Client()
	reg := &api.AgentServiceRegistration{ID: "x", Name: "x", Address: "127.0.0.1", Port: 1}
	if err := cli.Agent().ServiceRegister(reg); err != nil {
		t.Fatalf("ServiceRegister: %v", err)
	}
	if err := agent.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	svcs, err := cli.Agent().Services()
	if err != nil {
		t.Fatalf("Services after restart: %v", err)
	}
	if _, ok := svcs["x"]; ok {
		t.Fatal("a restarted dev agent still knows service x")
	}
}

func TestConsulACLs(t *testing.T) {
	const root = "11111111-2222-3333-4444-555555555555"
	agent := registrytest.StartConsul(t, registrytest.WithACLs(root))
	tok, err := agent.CreateToken("reader", `service_prefix "" { policy = "read" } node_prefix "" { policy = "read" }`)
	if err != nil {
		t.Fatal(err)
	}
	anon := agent.Config()
	anon.Token = ""
	anonCli, _ := api.NewClient(anon)
	if err := anonCli.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "y", Port: 1}); err == nil {
		t.Fatal("anonymous ServiceRegister succeeded with default policy deny")
	}
	reader := agent.Config()
	reader.Token = tok
	readerCli, _ := api.NewClient(reader)
	if _, _, err := readerCli.Health().Service("y", "", true, nil); err != nil {
		t.Fatalf("read with a service:read token: %v", err)
	}
}

func waitCheck(t *testing.T, cli *api.Client, checkID, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	var last string
	for ctx.Err() == nil {
		checks, err := cli.Agent().Checks()
		if err == nil {
			if c, ok := checks[checkID]; ok {
				last = c.Status
				if last == want {
					return
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("check %s is %q, want %q before the deadline", checkID, last, want)
}

func splitHostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return host, port
}
