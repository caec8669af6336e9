package etcd_test

import (
	"context"
	"net/url"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/internal/testutil"
	"github.com/grpckit/grpckit/registrytest"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/etcd"
)

// rejectEmptyCC is a resolver.ClientConn whose balancer, as grpc-go's own
// policies do, answers an empty endpoint list with ErrBadResolverState. It
// counts the empty states offered.
type rejectEmptyCC struct {
	*testutil.ResolverClientConn
	mu      sync.Mutex
	empties int
}

func (c *rejectEmptyCC) UpdateState(s resolver.State) error {
	_ = c.ResolverClientConn.UpdateState(s)
	if len(s.Endpoints) > 0 {
		return nil
	}
	c.mu.Lock()
	c.empties++
	c.mu.Unlock()
	return balancer.ErrBadResolverState
}

func (c *rejectEmptyCC) emptyStates() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.empties
}

// TestResolverRejectedEmptySetIsNotRetried: once the last instance goes, the
// empty set is offered to the channel once. The balancer rejecting it (as
// every real one does) is not an error to retry: the channel has it, and
// offering it again on every backoff step, for as long as the service stays
// empty, only wakes the balancer. An instance coming back is published.
func TestResolverRejectedEmptySetIsNotRetried(t *testing.T) {
	cluster := registrytest.StartEtcd(t)
	cli := newClient(t, cluster.Endpoints()...)
	reg := register(t, cli, kitresolver.Instance{ID: "a", Service: "empty", Addr: "127.0.0.1:20001"})

	cc := &rejectEmptyCC{ResolverClientConn: testutil.NewResolverClientConn()}
	b := etcd.NewBuilder(cli, etcd.WithBackoff(fastBackoff))
	u, err := url.Parse("etcd:///empty")
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.Build(resolver.Target{URL: *u}, cc, resolver.BuildOptions{})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(r.Close)
	waitState(t, cc.ResolverClientConn, hasIDs("a"))

	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	if err := reg.Deregister(ctx); err != nil {
		t.Fatalf("Deregister: %v", err)
	}
	waitState(t, cc.ResolverClientConn, hasIDs())
	lists := etcd.ListCount(r)

	// Ten times the longest backoff step: a retried empty set would be
	// offered again several times by now (a slow machine offers it fewer
	// times, never more). The ceiling is the one offer, and one more for
	// each re-list (after a watch failure) meanwhile.
	time.Sleep(10 * fastBackoff.Max)
	relists := etcd.ListCount(r) - lists
	if n := cc.emptyStates(); n > 1+int(relists) {
		t.Fatalf("the empty set was offered %d times, with %d re-lists; want once, plus once per re-list", n, relists)
	}

	register(t, cli, kitresolver.Instance{ID: "b", Service: "empty", Addr: "127.0.0.1:20002"})
	waitState(t, cc.ResolverClientConn, hasIDs("b"))
}
