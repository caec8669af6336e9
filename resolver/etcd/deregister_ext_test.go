package etcd_test

import (
	"context"
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

// TestDeregisterBoundedWhenEtcdDown: with etcd stopped, Deregister with
// context.Background() (the usual shutdown) returns within the request
// timeout with an error saying the key expires with its lease, and a second
// Deregister started meanwhile with its own short deadline returns at that
// deadline instead of waiting for the first.
func TestDeregisterBoundedWhenEtcdDown(t *testing.T) {
	const requestTimeout = 3 * time.Second
	cluster := registrytest.StartEtcd(t)
	cli := newClient(t, cluster.Endpoints()...)
	reg, err := etcd.Register(timeoutCtx(t, testutil.DefaultTimeout), cli,
		kitresolver.Instance{Service: "greeter-down", Addr: "127.0.0.1:1"},
		etcd.WithRequestTimeout(requestTimeout), etcd.WithBackoff(fastBackoff))
	if err != nil {
		t.Fatal(err)
	}
	cluster.StopAll()

	type result struct {
		err     error
		elapsed time.Duration
	}
	deregister := func(ctx context.Context) <-chan result {
		ch := make(chan result, 1)
		start := time.Now()
		go func() {
			err := reg.Deregister(ctx)
			ch <- result{err, time.Since(start)}
		}()
		return ch
	}
	first := deregister(context.Background())
	for !etcd.Removing(reg) { // the first call is removing the key
		select {
		case r := <-first:
			t.Fatalf("Deregister with etcd down returned at once: %v", r.err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	second := deregister(short)

	// Each bound gets a generous allowance for a loaded machine, far below
	// "forever" and, for the second call, below the first call's bound.
	const slack = 2500 * time.Millisecond
	select {
	case r := <-second:
		if !errors.Is(r.err, context.DeadlineExceeded) || r.elapsed > 100*time.Millisecond+slack {
			t.Errorf("second Deregister (100ms deadline) = %v after %v; want its deadline honoured", r.err, r.elapsed)
		}
	case <-time.After(requestTimeout + 2*slack):
		t.Fatal("second Deregister (100ms deadline) has not returned")
	}
	select {
	case r := <-first:
		if r.err == nil || !strings.Contains(r.err.Error(), "expires with its lease") || r.elapsed > requestTimeout+slack {
			t.Errorf("Deregister(context.Background()) = %v after %v; want an error saying the key expires with its lease, within %v", r.err, r.elapsed, requestTimeout)
		}
	case <-time.After(requestTimeout + 2*slack):
		t.Fatal("Deregister(context.Background()) has not returned with etcd down")
	}

	// Once etcd is back a later call removes the key.
	if err := cluster.RestartAll(); err != nil {
		t.Fatal(err)
	}
	if err := reg.Deregister(timeoutCtx(t, testutil.DefaultTimeout)); err != nil {
		t.Fatalf("Deregister after etcd came back: %v", err)
	}
	if resp, err := cli.Get(timeoutCtx(t, testutil.DefaultTimeout), reg.Key()); err != nil || len(resp.Kvs) != 0 {
		t.Fatalf("key after Deregister: %v, %v; want it gone", resp, err)
	}
}

// putHook is a KV whose next Put, once armed, waits until its context ends
// (as when Deregister cancels a restore) and then writes anyway: a Put that
// reached etcd although its client gave up.
type putHook struct {
	clientv3.KV
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
}

func (h *putHook) arm() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.armed, h.entered = true, make(chan struct{})
	return h.entered
}

func (h *putHook) Put(ctx context.Context, key, val string, opts ...clientv3.OpOption) (*clientv3.PutResponse, error) {
	h.mu.Lock()
	armed := h.armed
	h.armed = false
	h.mu.Unlock()
	if !armed {
		return h.KV.Put(ctx, key, val, opts...)
	}
	close(h.entered)
	<-ctx.Done()
	wctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	if _, err := h.KV.Put(wctx, key, val, opts...); err != nil {
		return nil, err
	}
	return nil, ctx.Err()
}

// TestDeregisterRacingRestore: a Deregister that lands while the registrar
// restores a lost registration under a freshly granted lease leaves neither
// the key nor any lease behind, even when the restore's write reached etcd
// after its client gave up.
func TestDeregisterRacingRestore(t *testing.T) {
	cluster := registrytest.StartEtcd(t)
	admin := newClient(t, cluster.Endpoints()...)
	cli := newClient(t, cluster.Endpoints()...)
	hook := &putHook{KV: cli.KV}
	cli.KV = hook
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	reg, err := etcd.Register(ctx, cli, kitresolver.Instance{Service: "greeter-race", Addr: "127.0.0.1:1"}, etcd.WithBackoff(fastBackoff))
	if err != nil {
		t.Fatal(err)
	}
	entered := hook.arm()
	if _, err := admin.Revoke(ctx, reg.Lease()); err != nil { // the registration is lost
		t.Fatal(err)
	}
	select {
	case <-entered: // the restore granted a new lease and is writing the key
	case <-ctx.Done():
		t.Fatal("the registrar did not restore the registration")
	}
	if err := reg.Deregister(ctx); err != nil {
		t.Fatalf("Deregister: %v", err)
	}
	if resp, err := admin.Get(ctx, reg.Key()); err != nil || len(resp.Kvs) != 0 {
		t.Errorf("key after Deregister: %v, %v; want it gone", resp, err)
	}
	if resp, err := admin.Leases(ctx); err != nil || len(resp.Leases) != 0 {
		t.Errorf("leases after Deregister: %+v, %v; want none", resp, err)
	}
}
