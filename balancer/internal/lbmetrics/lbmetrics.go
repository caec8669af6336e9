// Package lbmetrics lets grpckit's balancers report metrics about the picker
// they publish through gRPC's asynchronous metrics (estats), read when the
// stats plugin collects, so that Pick pays nothing for them.
//
// A balancer's Build wraps its ClientConn in a Conn, which remembers the
// newest picker of the policy's type published through it (and forgets it
// when a picker of another type, such as an error picker, is published), and
// wraps the balancer it returns with Wrap, which registers the reporter and
// unregisters it on Close, so that a closed channel reports nothing.
package lbmetrics

import (
	"sync/atomic"

	"google.golang.org/grpc/balancer"
	estats "google.golang.org/grpc/experimental/stats"
)

// Labels of grpckit's balancer metrics. Target is gRPC's own label; Endpoint
// (an endpoint's first address) is bounded by the resolver's endpoint list.
const (
	LabelTarget   = "grpc.target"
	LabelEndpoint = "grpckit.lb.endpoint"
)

// Conn is a balancer.ClientConn that keeps the newest P published through
// it. P is the policy's picker type.
type Conn[P balancer.Picker] struct {
	balancer.ClientConn
	cur atomic.Pointer[P]
}

// NewConn wraps cc.
func NewConn[P balancer.Picker](cc balancer.ClientConn) *Conn[P] { return &Conn[P]{ClientConn: cc} }

// UpdateState notes s's picker, if it is a P, then passes s on.
func (c *Conn[P]) UpdateState(s balancer.State) {
	if p, ok := s.Picker.(P); ok {
		c.cur.Store(&p)
	} else {
		c.cur.Store(nil)
	}
	c.ClientConn.UpdateState(s)
}

// Picker returns the newest P published; ok is false if the newest picker is
// of another type (no READY endpoint) or none was published yet.
func (c *Conn[P]) Picker() (p P, ok bool) {
	if cur := c.cur.Load(); cur != nil {
		return *cur, true
	}
	return p, false
}

// Balancer is a balancer that unregisters its metric reporter on Close.
type Balancer struct {
	balancer.Balancer
	unregister func()
}

// Wrap registers report for metrics on cc's MetricsRecorder and returns b,
// unregistering it when b closes. A ClientConn with no MetricsRecorder (a
// parent policy's or a test's) gets no metrics, not a panic.
func Wrap(b balancer.Balancer, cc balancer.ClientConn, report func(estats.AsyncMetricsRecorder), metrics ...estats.AsyncMetric) *Balancer {
	unregister := func() {}
	if mr := cc.MetricsRecorder(); mr != nil {
		if u := mr.RegisterAsyncReporter(estats.AsyncMetricReporterFunc(func(r estats.AsyncMetricsRecorder) error {
			report(r)
			return nil
		}), metrics...); u != nil {
			unregister = u
		}
	}
	return &Balancer{Balancer: b, unregister: unregister}
}

// Close closes the balancer, then stops reporting.
func (b *Balancer) Close() {
	b.Balancer.Close()
	b.unregister()
}
