package resolver

import (
	"cmp"
	"slices"
	"sync"

	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/resolver"
)

var logger = grpclog.Component("grpckit-resolver")

// Endpoints turns instances into resolver endpoints sorted by address, each
// carrying its Instance (SetInstance). When two instances share an address the
// one with the smaller ID wins and the other is logged and dropped: one
// backend must not take a double share because it was registered twice.
func Endpoints(insts []Instance) []resolver.Endpoint {
	sorted := slices.Clone(insts)
	slices.SortFunc(sorted, func(a, b Instance) int {
		return cmp.Or(cmp.Compare(a.Addr, b.Addr), cmp.Compare(a.ID, b.ID))
	})
	eps := make([]resolver.Endpoint, 0, len(sorted))
	for i, inst := range sorted {
		if i > 0 && sorted[i-1].Addr == inst.Addr {
			logger.Warningf("grpckit/resolver: %s: address already served by instance %q, skipped", inst, sorted[i-1].ID)
			continue
		}
		ep := resolver.Endpoint{Addresses: []resolver.Address{{Addr: inst.Addr}}}
		eps = append(eps, SetInstance(ep, inst))
	}
	return eps
}

// Publisher publishes a registry's instance sets to a resolver.ClientConn with
// the rules both backends share:
//
//   - Publish is for the registry's authoritative answer, which may be empty:
//     an empty set makes RPCs fail fast with Unavailable instead of hanging.
//   - Fail is for errors. Before the first Publish it reports the error to the
//     channel (RPCs fail with it); afterwards it only logs, and the channel
//     keeps serving the last good set. An error never publishes an empty set.
//
// A Publisher is safe for concurrent use.
type Publisher struct {
	cc resolver.ClientConn

	mu        sync.Mutex
	published bool
}

// NewPublisher returns a Publisher for cc.
func NewPublisher(cc resolver.ClientConn) *Publisher {
	return &Publisher{cc: cc}
}

// Publish replaces the channel's endpoints with insts. It returns the error of
// cc.UpdateState; a non-nil error means the channel rejected the state and the
// caller should resolve again after a backoff.
func (p *Publisher) Publish(insts []Instance) error {
	p.mu.Lock()
	p.published = true
	p.mu.Unlock()
	return p.cc.UpdateState(resolver.State{Endpoints: Endpoints(insts)})
}

// Fail reports err to the channel if nothing was ever published, and reports
// whether it did. Otherwise the last good set stays in service.
func (p *Publisher) Fail(err error) bool {
	p.mu.Lock()
	published := p.published
	p.mu.Unlock()
	if published {
		logger.Warningf("grpckit/resolver: keeping the last good instances: %v", err)
		return false
	}
	p.cc.ReportError(err)
	return true
}

// Published reports whether Publish was called at least once.
func (p *Publisher) Published() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.published
}
