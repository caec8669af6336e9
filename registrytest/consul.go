package registrytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// ConsulVersion is the Consul release `make consul` builds and the cache holds.
const ConsulVersion = "1.14.5"

// consulStartTimeout bounds how long an agent may take to elect itself leader.
const consulStartTimeout = 60 * time.Second

// ErrNoConsul is returned when no Consul binary can be found.
var ErrNoConsul = errors.New("registrytest: no consul binary: set $CONSUL_BIN, put consul on $PATH, or run `make consul`")

// ConsulBinary returns the path of the Consul agent binary: $CONSUL_BIN, else
// consul on $PATH, else the cache `make consul` fills.
func ConsulBinary() (string, error) {
	if p := os.Getenv("CONSUL_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("registrytest: $CONSUL_BIN: %w", err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("consul"); err == nil {
		return p, nil
	}
	p := filepath.Join(cacheDir(), "consul-"+ConsulVersion, "consul")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	return "", ErrNoConsul
}

// cacheDir mirrors the Makefile's cache: $GRPCKIT_CACHE, else
// $XDG_CACHE_HOME/grpckit, else ~/.cache/grpckit.
func cacheDir() string {
	if d := os.Getenv("GRPCKIT_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "grpckit")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "grpckit")
}

// ConsulOption configures a ConsulAgent.
type ConsulOption func(*consulConfig)

type consulConfig struct {
	aclToken string
	hcl      []string
}

// WithACLs turns ACLs on with default policy deny and managementToken as the
// initial management token. Clients from the agent then send that token.
func WithACLs(managementToken string) ConsulOption {
	return func(c *consulConfig) { c.aclToken = managementToken }
}

// WithHCL adds agent configuration in HCL.
func WithHCL(hcl string) ConsulOption {
	return func(c *consulConfig) { c.hcl = append(c.hcl, hcl) }
}

// ConsulAgent is a `consul agent -dev` process on loopback. Dev mode keeps
// everything in memory: a restart forgets every service, as a real agent
// that lost its state would. Its methods are safe for concurrent use.
type ConsulAgent struct {
	bin     string
	cfg     consulConfig
	dir     string
	http    int
	grpc    int
	ports   []int // serf lan, serf wan, server
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exits
}

// StartConsul starts an agent for the test and stops it at cleanup. It fails
// the test when no binary can be found: a missing agent is a broken setup.
func StartConsul(t testing.TB, opts ...ConsulOption) *ConsulAgent {
	t.Helper()
	a, err := NewConsulAgent(t.TempDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// NewConsulAgent starts an agent whose log and config live in dir, and waits
// until it has elected itself leader. Close stops it. It suits TestMain, where
// one agent serves a whole package.
func NewConsulAgent(dir string, opts ...ConsulOption) (*ConsulAgent, error) {
	bin, err := ConsulBinary()
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	a := &ConsulAgent{bin: bin, dir: dir, http: ports[0], grpc: ports[1], ports: ports[2:],
		logPath: filepath.Join(dir, "consul.log")}
	for _, o := range opts {
		o(&a.cfg)
	}
	if err := os.WriteFile(filepath.Join(dir, "agent.hcl"), []byte(a.hclConfig()), 0o600); err != nil {
		return nil, fmt.Errorf("registrytest: consul config: %w", err)
	}
	if err := a.Start(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *ConsulAgent) hclConfig() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "ports {\n  http = %d\n  grpc = %d\n  grpc_tls = -1\n  https = -1\n  dns = -1\n  serf_lan = %d\n  serf_wan = %d\n  server = %d\n}\n",
		a.http, a.grpc, a.ports[0], a.ports[1], a.ports[2])
	b.WriteString("bind_addr = \"127.0.0.1\"\nclient_addr = \"127.0.0.1\"\nlog_level = \"warn\"\n")
	b.WriteString("disable_update_check = true\n")
	if a.cfg.aclToken != "" {
		fmt.Fprintf(&b, "acl {\n  enabled = true\n  default_policy = \"deny\"\n  enable_token_persistence = false\n  tokens {\n    initial_management = %q\n    agent = %q\n  }\n}\n",
			a.cfg.aclToken, a.cfg.aclToken)
	}
	for _, h := range a.cfg.hcl {
		b.WriteString(h + "\n")
	}
	return b.String()
}

// Addr returns the agent's HTTP API host:port.
func (a *ConsulAgent) Addr() string { return fmt.Sprintf("127.0.0.1:%d", a.http) }

// LogPath returns the file the agent writes its log to.
func (a *ConsulAgent) LogPath() string { return a.logPath }

// Config returns an api.Config for the agent, carrying the management token
// when ACLs are on.
func (a *ConsulAgent) Config() *api.Config {
	cfg := api.DefaultNonPooledConfig()
	cfg.Address = a.Addr()
	cfg.Token = a.cfg.aclToken
	return cfg
}

// Client returns an API client of the agent.
func (a *ConsulAgent) Client() *api.Client {
	cli, err := api.NewClient(a.Config())
	if err != nil {
		panic(fmt.Sprintf("registrytest: consul client: %v", err)) // only a malformed config fails
	}
	return cli
}

// Start starts the agent if it is stopped and waits until it serves.
func (a *ConsulAgent) Start() error {
	a.mu.Lock()
	if a.cmd != nil {
		a.mu.Unlock()
		return nil
	}
	logf, err := os.OpenFile(a.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		a.mu.Unlock()
		return fmt.Errorf("registrytest: consul log: %w", err)
	}
	cmd := exec.Command(a.bin, "agent", "-dev", "-config-file", filepath.Join(a.dir, "agent.hcl"))
	cmd.Stdout, cmd.Stderr = logf, logf
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		a.mu.Unlock()
		return fmt.Errorf("registrytest: starting %s: %w", a.bin, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	a.cmd, a.done = cmd, done
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), consulStartTimeout)
	defer cancel()
	if err := a.waitReady(ctx, done); err != nil {
		a.Stop()
		return err
	}
	return nil
}

// waitReady polls until the agent has a leader and answers catalog queries.
func (a *ConsulAgent) waitReady(ctx context.Context, exited <-chan struct{}) error {
	cli := a.Client()
	for {
		leader, err := cli.Status().Leader()
		if err == nil && leader != "" {
			if _, _, err = cli.Catalog().Services(nil); err == nil {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("registrytest: consul agent exited; see %s", a.logPath)
		case <-ctx.Done():
			return fmt.Errorf("registrytest: consul agent not ready: %v (last error: %v); see %s", ctx.Err(), err, a.logPath)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop kills the agent (SIGKILL: no graceful leave) and waits for it to exit.
func (a *ConsulAgent) Stop() {
	a.mu.Lock()
	cmd, done := a.cmd, a.done
	a.cmd, a.done = nil, nil
	a.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-done
}

// Restart kills the agent and starts it again on the same ports. A dev agent
// comes back empty.
func (a *ConsulAgent) Restart() error {
	a.Stop()
	return a.Start()
}

// Running reports whether the agent process is up.
func (a *ConsulAgent) Running() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cmd != nil
}

// Close stops the agent.
func (a *ConsulAgent) Close() { a.Stop() }

// CreateToken creates an ACL token with a policy made of rules (Consul's
// HCL rule syntax) and returns its secret. It needs WithACLs.
func (a *ConsulAgent) CreateToken(name, rules string) (string, error) {
	acl := a.Client().ACL()
	pol, _, err := acl.PolicyCreate(&api.ACLPolicy{Name: name, Rules: rules}, nil)
	if err != nil {
		return "", fmt.Errorf("registrytest: creating policy %s: %w", name, err)
	}
	tok, _, err := acl.TokenCreate(&api.ACLToken{Description: name, Policies: []*api.ACLTokenPolicyLink{{ID: pol.ID}}}, nil)
	if err != nil {
		return "", fmt.Errorf("registrytest: creating token %s: %w", name, err)
	}
	return tok.SecretID, nil
}
