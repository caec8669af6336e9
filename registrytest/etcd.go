package registrytest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// etcdStartTimeout bounds how long a member may take to join its cluster.
const etcdStartTimeout = 30 * time.Second

// EtcdCluster is an embedded etcd cluster on loopback. Its methods are safe
// for concurrent use.
type EtcdCluster struct {
	members []*EtcdMember
}

// EtcdMember is one member of an EtcdCluster.
type EtcdMember struct {
	name    string
	dir     string
	client  url.URL
	peer    url.URL
	cluster string
	mu      sync.Mutex
	etcd    *embed.Etcd // nil while stopped
}

// StartEtcd starts a single-member etcd for the test and stops it at cleanup.
func StartEtcd(t testing.TB) *EtcdCluster {
	t.Helper()
	return StartEtcdCluster(t, 1)
}

// StartEtcdCluster starts an n-member etcd cluster for the test, with data in
// t.TempDir(), and stops it at cleanup.
func StartEtcdCluster(t testing.TB, n int) *EtcdCluster {
	t.Helper()
	c, err := NewEtcdCluster(t.TempDir(), n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// NewEtcdCluster starts an n-member etcd cluster with its data under dir and
// waits until it has a leader. Close stops it.
func NewEtcdCluster(dir string, n int) (*EtcdCluster, error) {
	if n < 1 {
		return nil, fmt.Errorf("registrytest: etcd cluster of %d members", n)
	}
	ports, err := freePorts(2 * n)
	if err != nil {
		return nil, err
	}
	c := &EtcdCluster{}
	peers := make([]string, n)
	for i := range n {
		m := &EtcdMember{
			name:   fmt.Sprintf("m%d", i),
			dir:    filepath.Join(dir, fmt.Sprintf("m%d", i)),
			client: url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", ports[2*i])},
			peer:   url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", ports[2*i+1])},
		}
		peers[i] = m.name + "=" + m.peer.String()
		c.members = append(c.members, m)
	}
	for _, m := range c.members {
		m.cluster = strings.Join(peers, ",")
	}
	if err := c.startMembers(c.members); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// startMembers starts the members concurrently: a restarted majority can only
// become ready together.
func (c *EtcdCluster) startMembers(ms []*EtcdMember) error {
	errs := make([]error, len(ms))
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Go(func() { errs[i] = m.start() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (m *EtcdMember) config() *embed.Config {
	cfg := embed.NewConfig()
	cfg.Name = m.name
	cfg.Dir = m.dir
	cfg.ListenClientUrls = []url.URL{m.client}
	cfg.AdvertiseClientUrls = []url.URL{m.client}
	cfg.ListenPeerUrls = []url.URL{m.peer}
	cfg.AdvertisePeerUrls = []url.URL{m.peer}
	cfg.InitialCluster = m.cluster
	cfg.InitialClusterToken = "grpckit-registrytest"
	cfg.ListenMetricsUrls = nil
	cfg.LogLevel = "error"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	// Short heartbeats make leader changes and restarts quick in tests.
	cfg.TickMs = 50
	cfg.ElectionMs = 500
	return cfg
}

func (m *EtcdMember) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.etcd != nil {
		return nil
	}
	e, err := embed.StartEtcd(m.config())
	if err != nil {
		return fmt.Errorf("registrytest: starting etcd member %s: %w", m.name, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return fmt.Errorf("registrytest: etcd member %s: %w", m.name, err)
	case <-time.After(etcdStartTimeout):
		e.Close()
		return fmt.Errorf("registrytest: etcd member %s not ready after %v", m.name, etcdStartTimeout)
	}
	m.etcd = e
	return nil
}

func (m *EtcdMember) stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.etcd != nil {
		m.etcd.Close()
		m.etcd = nil
	}
}

// Name returns the member's name.
func (m *EtcdMember) Name() string { return m.name }

// Endpoint returns the member's client URL host:port.
func (m *EtcdMember) Endpoint() string { return m.client.Host }

// Running reports whether the member is started.
func (m *EtcdMember) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.etcd != nil
}

// IsLeader reports whether the member is running and is the raft leader.
func (m *EtcdMember) IsLeader() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.etcd != nil && m.etcd.Server.Leader() == m.etcd.Server.MemberID()
}

// Members returns the cluster's members in order.
func (c *EtcdCluster) Members() []*EtcdMember { return c.members }

// Endpoints returns every member's client host:port.
func (c *EtcdCluster) Endpoints() []string {
	eps := make([]string, len(c.members))
	for i, m := range c.members {
		eps[i] = m.Endpoint()
	}
	return eps
}

// Stop stops member i, keeping its data for Restart.
func (c *EtcdCluster) Stop(i int) { c.members[i].stop() }

// Restart starts member i again from its data. With the other members down it
// returns once they are restarted too: use RestartAll to restart a majority.
func (c *EtcdCluster) Restart(i int) error { return c.members[i].start() }

// StopAll stops every member, the leader first each time: a leader that still
// has peers hands over quickly, one that lost them waits out its hand-off.
func (c *EtcdCluster) StopAll() {
	for range c.members {
		i := c.Leader()
		if i < 0 {
			break
		}
		c.members[i].stop()
	}
	for _, m := range c.members {
		m.stop()
	}
}

// RestartAll starts every stopped member and waits until the cluster serves.
func (c *EtcdCluster) RestartAll() error { return c.startMembers(c.members) }

// Leader returns the index of the current leader, or -1 if none is known.
func (c *EtcdCluster) Leader() int {
	for i, m := range c.members {
		if m.IsLeader() {
			return i
		}
	}
	return -1
}

// Close stops every member. The data stays in the directory given at start.
func (c *EtcdCluster) Close() { c.StopAll() }

// NewClient returns a client of the given endpoints, or of every member when
// none are given. It does not wait for a connection. The caller closes it.
func (c *EtcdCluster) NewClient(endpoints ...string) (*clientv3.Client, error) {
	if len(endpoints) == 0 {
		endpoints = c.Endpoints()
	}
	return clientv3.New(clientv3.Config{
		Endpoints:            endpoints,
		DialTimeout:          5 * time.Second,
		DialKeepAliveTime:    time.Second,
		DialKeepAliveTimeout: time.Second,
		Logger:               zap.NewNop(),
	})
}

// Client returns a client of the given endpoints (every member when none are
// given) that is closed at the test's cleanup.
func (c *EtcdCluster) Client(t testing.TB, endpoints ...string) *clientv3.Client {
	t.Helper()
	cli, err := c.NewClient(endpoints...)
	if err != nil {
		t.Fatalf("registrytest: etcd client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// WaitReady waits until a linearizable read through a fresh client succeeds.
func (c *EtcdCluster) WaitReady(ctx context.Context) error {
	cli, err := c.NewClient()
	if err != nil {
		return err
	}
	defer cli.Close()
	for {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := cli.Get(rctx, "registrytest-ready")
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("registrytest: etcd not ready: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
