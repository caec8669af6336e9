package etcd_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/grpckit/grpckit/internal/testutil"
	"github.com/grpckit/grpckit/registrytest"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/etcd"
)

// stateLog records a registration's state callbacks.
type stateLog struct {
	mu     sync.Mutex
	states []etcd.RegistrationState
	errs   []error
}

func (l *stateLog) record(s etcd.RegistrationState, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.states = append(l.states, s)
	l.errs = append(l.errs, err)
}

func (l *stateLog) count(s etcd.RegistrationState) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, got := range l.states {
		if got == s {
			n++
		}
	}
	return n
}

func (l *stateLog) lastErr() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.states) - 1; i >= 0; i-- {
		if l.states[i] == etcd.StateLost {
			return l.errs[i]
		}
	}
	return nil
}

func TestRegisterRejectsBadConfig(t *testing.T) {
	cli := newClient(t, registrytest.StartEtcd(t).Endpoints()...)
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	good := kitresolver.Instance{Service: "greeter", Addr: "127.0.0.1:1"}
	tests := []struct {
		name    string
		inst    kitresolver.Instance
		opts    []etcd.RegisterOption
		wantErr string
	}{
		{"bad address", kitresolver.Instance{Service: "greeter", Addr: "nope"}, nil, "not host:port"},
		{"bad service", kitresolver.Instance{Service: "a/b", Addr: "127.0.0.1:1"}, nil, "service name"},
		{"listener wildcard", kitresolver.Instance{Service: "greeter", Addr: "[::]:50051"}, nil, `not the listener's ":50051"`},
		{"huge weight", kitresolver.Instance{Service: "greeter", Addr: "127.0.0.1:1", Weight: 10001}, nil, "weight"},
		{"short TTL", good, []etcd.RegisterOption{etcd.WithTTL(500 * time.Millisecond)}, "WithTTL(500ms)"},
		{"bad backoff", good, []etcd.RegisterOption{etcd.WithBackoff(kitresolver.Backoff{Base: time.Second, Max: time.Second, Multiplier: 0.5})}, "multiplier"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, err := etcd.Register(ctx, cli, tt.inst, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "etcd: ") {
				t.Fatalf("Register() = %v, %v; want an etcd: error containing %q", reg, err, tt.wantErr)
			}
		})
	}
	if _, err := etcd.Register(ctx, nil, good); err == nil {
		t.Fatal("Register accepted a nil client")
	}
}

func TestRegisterWritesKeyUnderLease(t *testing.T) {
	cli := newClient(t, registrytest.StartEtcd(t).Endpoints()...)
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	reg := register(t, cli, kitresolver.Instance{Service: "greeter", Addr: "127.0.0.1:9", Zone: "z"}, etcd.WithTTL(3*time.Second))
	if reg.Key() != "/services/greeter/127.0.0.1:9" {
		t.Fatalf("Key() = %q", reg.Key())
	}
	resp, err := cli.Get(ctx, reg.Key())
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("Get(%q) = %v, %v", reg.Key(), resp, err)
	}
	if got, want := string(resp.Kvs[0].Value), `{"addr":"127.0.0.1:9","zone":"z"}`; got != want {
		t.Fatalf("value = %s, want %s", got, want)
	}
	if clientv3.LeaseID(resp.Kvs[0].Lease) != reg.Lease() {
		t.Fatalf("key lease %x, registration lease %x", resp.Kvs[0].Lease, reg.Lease())
	}
	ttl, err := cli.TimeToLive(ctx, reg.Lease())
	if err != nil || ttl.GrantedTTL != 3 {
		t.Fatalf("lease TTL = %v, %v; want granted 3 s", ttl, err)
	}
	// Kept alive past several TTLs.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := cli.Get(ctx, reg.Key()); err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("key gone while registered: %v, %v", resp, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestRegisterRestoresDeletedKey(t *testing.T) {
	cli := newClient(t, registrytest.StartEtcd(t).Endpoints()...)
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	const ttl = 2 * time.Second
	var log stateLog
	reg := register(t, cli, kitresolver.Instance{Service: "greeter", Addr: "127.0.0.1:9"}, etcd.WithTTL(ttl), etcd.WithStateFunc(log.record))
	for i := range 3 {
		start := time.Now()
		if _, err := cli.Delete(ctx, reg.Key()); err != nil {
			t.Fatal(err)
		}
		waitKey(t, cli, reg.Key(), true)
		if d := time.Since(start); d > ttl {
			t.Fatalf("deleted key back after %v, want within one TTL (%v)", d, ttl)
		}
		waitCount(t, func() int { return log.count(etcd.StateRestored) }, i+1)
	}
	if err := log.lastErr(); !strings.Contains(err.Error(), "key deleted") {
		t.Fatalf("lost reason = %v, want key deleted", err)
	}
}

func TestRegisterRestoresRevokedLease(t *testing.T) {
	cli := newClient(t, registrytest.StartEtcd(t).Endpoints()...)
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	var log stateLog
	reg := register(t, cli, kitresolver.Instance{Service: "greeter", Addr: "127.0.0.1:9"}, etcd.WithTTL(time.Second), etcd.WithStateFunc(log.record))
	old := reg.Lease()
	if _, err := cli.Revoke(ctx, old); err != nil {
		t.Fatal(err)
	}
	waitCount(t, func() int { return log.count(etcd.StateRestored) }, 1)
	resp := waitKey(t, cli, reg.Key(), true)
	if got := clientv3.LeaseID(resp.Kvs[0].Lease); got == old || got != reg.Lease() {
		t.Fatalf("key lease %x after revoking %x; registration lease %x", got, old, reg.Lease())
	}
}

func TestDeregisterIsIdempotent(t *testing.T) {
	cli := newClient(t, registrytest.StartEtcd(t).Endpoints()...)
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	reg := register(t, cli, kitresolver.Instance{Service: "greeter", Addr: "127.0.0.1:9"})
	for range 3 {
		if err := reg.Deregister(ctx); err != nil {
			t.Fatalf("Deregister() = %v", err)
		}
	}
	waitKey(t, cli, reg.Key(), false)
	ttl, err := cli.TimeToLive(ctx, reg.Lease())
	if err != nil || ttl.TTL != -1 {
		t.Fatalf("lease after Deregister: %v, %v; want revoked (TTL -1)", ttl, err)
	}
}

func TestDeregisterLeavesAnotherOwnersKey(t *testing.T) {
	cli := newClient(t, registrytest.StartEtcd(t).Endpoints()...)
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	reg := register(t, cli, kitresolver.Instance{Service: "greeter", Addr: "127.0.0.1:9"})
	// Another process took the key over under its own, unleased write.
	if _, err := cli.Put(ctx, reg.Key(), "127.0.0.1:10"); err != nil {
		t.Fatal(err)
	}
	if err := reg.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	if resp := waitKey(t, cli, reg.Key(), true); string(resp.Kvs[0].Value) != "127.0.0.1:10" {
		t.Fatalf("key value %s, want the other owner's", resp.Kvs[0].Value)
	}
}

func TestDeregisterWithRegistryDown(t *testing.T) {
	cluster := registrytest.StartEtcd(t)
	proxy := registrytest.StartProxy(t, cluster.Endpoints()[0])
	cli := newClient(t, proxy.Addr())
	reg := register(t, cli, kitresolver.Instance{Service: "greeter", Addr: "127.0.0.1:9"}, etcd.WithTTL(time.Second))
	proxy.Blackhole()
	ctx := timeoutCtx(t, 500*time.Millisecond)
	start := time.Now()
	if err := reg.Deregister(ctx); err == nil {
		t.Fatal("Deregister succeeded with the registry black-holed")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Deregister blocked %v past its 500ms deadline", d)
	}
	proxy.Resume()
	if err := reg.Deregister(timeoutCtx(t, testutil.DefaultTimeout)); err != nil {
		t.Fatalf("Deregister after the registry came back = %v", err)
	}
	waitKey(t, newClient(t, cluster.Endpoints()...), reg.Key(), false)
}

// waitKey polls until key exists (or not) and returns the last response.
func waitKey(t testing.TB, cli *clientv3.Client, key string, exists bool) *clientv3.GetResponse {
	t.Helper()
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	for {
		resp, err := cli.Get(ctx, key)
		if err == nil && (len(resp.Kvs) == 1) == exists {
			return resp
		}
		if ctx.Err() != nil {
			t.Fatalf("key %q exists=%t not reached: %v", key, exists, errors.Join(err, ctx.Err()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitCount polls until get returns at least n.
func waitCount(t testing.TB, get func() int, n int) {
	t.Helper()
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	for get() < n {
		select {
		case <-ctx.Done():
			t.Fatalf("count %d, want at least %d", get(), n)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
