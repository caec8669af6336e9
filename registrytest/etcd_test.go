package registrytest_test

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/grpckit/grpckit/internal/testutil"
	"github.com/grpckit/grpckit/registrytest"
)

func TestEtcdPutWatchLeaseExpiry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cli := registrytest.StartEtcd(t).Client(t)

	wch := cli.Watch(ctx, "/k/", clientv3.WithPrefix())
	lease, err := cli.Grant(ctx, 1)
	if err != nil {
		t.Fatalf("Grant: %v", err)
	}
	if _, err := cli.Put(ctx, "/k/a", "v", clientv3.WithLease(lease.ID)); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if ev := nextEvent(t, wch); ev.Type != clientv3.EventTypePut || string(ev.Kv.Value) != "v" {
		t.Fatalf("first event = %v %q, want PUT v", ev.Type, ev.Kv.Value)
	}
	// Nobody keeps the 1 s lease alive: etcd deletes the key when it expires.
	if ev := nextEvent(t, wch); ev.Type != clientv3.EventTypeDelete || string(ev.Kv.Key) != "/k/a" {
		t.Fatalf("second event = %v %q, want DELETE /k/a", ev.Type, ev.Kv.Key)
	}
}

func nextEvent(t *testing.T, wch clientv3.WatchChan) *clientv3.Event {
	t.Helper()
	select {
	case resp := <-wch:
		if err := resp.Err(); err != nil || len(resp.Events) == 0 {
			t.Fatalf("watch response: err %v, %d events", err, len(resp.Events))
		}
		return resp.Events[0]
	case <-time.After(testutil.DefaultTimeout):
		t.Fatal("no watch event before the deadline")
	}
	return nil
}

func TestEtcdClusterSurvivesMemberRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := registrytest.StartEtcdCluster(t, 3)
	cli := c.Client(t)
	if _, err := cli.Put(ctx, "k", "1"); err != nil {
		t.Fatalf("Put: %v", err)
	}

	leader := c.Leader()
	if leader < 0 {
		t.Fatal("no leader in a started cluster")
	}
	c.Stop(leader)
	if _, err := cli.Put(ctx, "k", "2"); err != nil {
		t.Fatalf("Put with the leader stopped: %v", err)
	}

	c.StopAll()
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err := cli.Get(short, "k")
	cancelShort()
	if err == nil {
		t.Fatal("Get succeeded with every member stopped")
	}

	if err := c.RestartAll(); err != nil {
		t.Fatalf("RestartAll: %v", err)
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	resp, err := cli.Get(ctx, "k")
	if err != nil {
		t.Fatalf("Get after restart: %v", err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "2" {
		t.Fatalf("after restart k = %v, want 2", resp.Kvs)
	}
}
