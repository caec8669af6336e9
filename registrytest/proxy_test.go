package registrytest_test

import (
	"context"
	"testing"
	"time"

	"github.com/grpckit/grpckit/registrytest"
)

func TestProxyBlackholeAndResume(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	etcd := registrytest.StartEtcd(t)
	proxy := registrytest.StartProxy(t, etcd.Endpoints()[0])
	cli := etcd.Client(t, proxy.Addr())

	if _, err := cli.Put(ctx, "k", "v"); err != nil {
		t.Fatalf("Put through the proxy: %v", err)
	}

	proxy.Blackhole()
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err := cli.Get(short, "k")
	cancelShort()
	if err == nil {
		t.Fatal("Get succeeded through a black hole")
	}

	proxy.Resume()
	for {
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		_, err := cli.Get(rctx, "k")
		rcancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("Get never recovered after Resume: %v", err)
		}
	}
}

func TestProxyPauseHoldsBytes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	etcd := registrytest.StartEtcd(t)
	proxy := registrytest.StartProxy(t, etcd.Endpoints()[0])
	cli := etcd.Client(t, proxy.Addr())
	if _, err := cli.Put(ctx, "k", "v"); err != nil {
		t.Fatalf("Put: %v", err)
	}

	proxy.Pause()
	done := make(chan error, 1)
	go func() {
		_, err := cli.Put(ctx, "k", "w")
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Put finished while paused: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	proxy.Resume()
	if err := <-done; err != nil {
		t.Fatalf("held Put failed after Resume: %v", err)
	}
}
