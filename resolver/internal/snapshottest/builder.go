package snapshottest

import (
	"sync"

	"google.golang.org/grpc/resolver"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// RecordingBuilder is a resolver.Builder whose resolvers' states and errors
// are counted on their way to the channel. Its zero value needs only the
// Builder it wraps. It is safe for concurrent use.
type RecordingBuilder struct {
	resolver.Builder

	mu     sync.Mutex
	states int
	stale  bool // of the last state
	errs   int
}

// Build builds the wrapped Builder's resolver on a ClientConn that records
// what it is told before passing it on.
func (b *RecordingBuilder) Build(t resolver.Target, cc resolver.ClientConn, o resolver.BuildOptions) (resolver.Resolver, error) {
	return b.Builder.Build(t, &recordingCC{ClientConn: cc, b: b}, o)
}

// Last returns how many states the channel got, whether the last was stale
// (kitresolver.IsStale), and how many errors it got.
func (b *RecordingBuilder) Last() (states int, stale bool, errs int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.states, b.stale, b.errs
}

type recordingCC struct {
	resolver.ClientConn
	b *RecordingBuilder
}

func (c *recordingCC) UpdateState(s resolver.State) error {
	c.b.mu.Lock()
	c.b.states++
	c.b.stale = kitresolver.IsStale(s)
	c.b.mu.Unlock()
	return c.ClientConn.UpdateState(s)
}

func (c *recordingCC) ReportError(err error) {
	c.b.mu.Lock()
	c.b.errs++
	c.b.mu.Unlock()
	c.ClientConn.ReportError(err)
}
