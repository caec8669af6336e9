// Package shardtest holds test helpers for grpckit's balancers: a fake
// balancer.ClientConn that behaves like gRPC's where testutil's does not.
//
// testutil.SubConn.Shutdown reports SHUTDOWN to the SubConn's listener
// synchronously. gRPC delivers that update later, from its serializer, and
// pickfirst relies on it: it shuts SubConns down while holding its own mutex,
// which the listener takes again, so with testutil's fake alone closing a
// balancer or removing an endpoint deadlocks. ClientConn wraps each SubConn so
// that Shutdown reports asynchronously, and waits for those reports at test
// cleanup.
package shardtest

import (
	"sync"
	"testing"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/internal/testutil"
)

// ClientConn is testutil.BalancerClientConn with asynchronous SubConn
// shutdown. SubConns it hands out are *SubConn.
type ClientConn struct {
	*testutil.BalancerClientConn
	wg sync.WaitGroup
}

// NewClientConn returns a ClientConn that waits for pending shutdown reports
// when t ends.
func NewClientConn(t testing.TB) *ClientConn {
	cc := &ClientConn{BalancerClientConn: testutil.NewBalancerClientConn()}
	t.Cleanup(cc.wg.Wait)
	return cc
}

// NewSubConn creates a testutil SubConn and wraps it.
func (c *ClientConn) NewSubConn(addrs []resolver.Address, opts balancer.NewSubConnOptions) (balancer.SubConn, error) {
	sc, err := c.BalancerClientConn.NewSubConn(addrs, opts)
	if err != nil {
		return nil, err
	}
	return &SubConn{SubConn: sc.(*testutil.SubConn), cc: c}, nil
}

// SubConn is a testutil.SubConn whose Shutdown reports from another goroutine,
// as gRPC's does.
type SubConn struct {
	*testutil.SubConn
	cc *ClientConn
}

// Shutdown shuts the SubConn down and reports SHUTDOWN asynchronously.
func (s *SubConn) Shutdown() {
	s.cc.wg.Add(1)
	go func() {
		defer s.cc.wg.Done()
		s.SubConn.Shutdown()
	}()
}

// Addr returns the address a pick result's SubConn connects to.
func Addr(sc balancer.SubConn) string {
	if a, ok := sc.(interface{ Addr() string }); ok {
		return a.Addr()
	}
	return ""
}
