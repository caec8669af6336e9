package etcd_test

import (
	"strings"
	"testing"
	"time"

	"github.com/grpckit/grpckit/internal/testutil"
	"github.com/grpckit/grpckit/registrytest"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/etcd"
)

// TestRegisterFailedWriteRevokesLease: when the first write fails after etcd
// granted the lease (here the value is larger than etcd accepts), the lease
// does not linger for its TTL: it is revoked in the background within the
// request timeout, and Register does not wait for that.
func TestRegisterFailedWriteRevokesLease(t *testing.T) {
	const requestTimeout = 10 * time.Second // the grant must succeed on a loaded machine
	cluster := registrytest.StartEtcd(t)
	cli := newClient(t, cluster.Endpoints()...)
	inst := kitresolver.Instance{Service: "huge", Addr: "127.0.0.1:20001",
		Metadata: map[string]string{"blob": strings.Repeat("x", 1800<<10)}} // above etcd's 1.5 MiB request limit

	_, err := etcd.Register(timeoutCtx(t, testutil.DefaultTimeout), cli, inst,
		etcd.WithTTL(time.Minute), etcd.WithRequestTimeout(requestTimeout))
	if err == nil {
		t.Fatal("Register of a value above etcd's request limit succeeded")
	}
	if !strings.Contains(err.Error(), "writing") {
		t.Fatalf("Register failed before the write, not after the grant: %v", err)
	}
	deadline := time.Now().Add(requestTimeout + 5*time.Second) // scheduling slack
	for {
		resp, err := cli.Leases(timeoutCtx(t, testutil.DefaultTimeout))
		n := -1
		if err == nil {
			n = len(resp.Leases)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v after the failed Register, %d leases remain (err %v); want its lease revoked, not left for its TTL of a minute",
				requestTimeout+5*time.Second, n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
