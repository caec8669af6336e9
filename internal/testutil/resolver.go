package testutil

import (
	"sync"

	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"
)

// ResolverClientConn is a fake resolver.ClientConn. States and errors the
// resolver reports arrive on States and Errors; UpdateStateErr, when set, is
// returned by UpdateState.
type ResolverClientConn struct {
	resolver.ClientConn // unused methods panic

	States *Latest[resolver.State]
	Errors *Latest[error]

	mu             sync.Mutex
	last           *resolver.State
	updateStateErr error
}

// NewResolverClientConn returns a fake that buffers the last 64 states and errors.
func NewResolverClientConn() *ResolverClientConn {
	return &ResolverClientConn{States: NewLatest[resolver.State](64), Errors: NewLatest[error](64)}
}

// UpdateState records s and returns the error set with SetUpdateStateErr.
func (c *ResolverClientConn) UpdateState(s resolver.State) error {
	c.mu.Lock()
	c.last = &s
	err := c.updateStateErr
	c.mu.Unlock()
	c.States.Send(s)
	return err
}

// ReportError records err.
func (c *ResolverClientConn) ReportError(err error) { c.Errors.Send(err) }

// ParseServiceConfig accepts any configuration and returns an empty one.
func (c *ResolverClientConn) ParseServiceConfig(string) *serviceconfig.ParseResult {
	return &serviceconfig.ParseResult{}
}

// SetUpdateStateErr makes later UpdateState calls return err (nil to stop).
func (c *ResolverClientConn) SetUpdateStateErr(err error) {
	c.mu.Lock()
	c.updateStateErr = err
	c.mu.Unlock()
}

// LastState returns the newest state UpdateState received, and whether there was one.
func (c *ResolverClientConn) LastState() (resolver.State, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		return resolver.State{}, false
	}
	return *c.last, true
}
