package main

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	estats "google.golang.org/grpc/experimental/stats"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/stats"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// histogram counts latencies in buckets 5 % wide from 10 µs up; it is safe
// for concurrent use and reports quantiles within a bucket's width.
type histogram struct {
	buckets [400]atomic.Int64
}

const (
	histMin    = 10 * time.Microsecond
	histGrowth = 1.05
)

func (h *histogram) record(d time.Duration) {
	i := 0
	if d > histMin {
		i = min(int(math.Log(float64(d)/float64(histMin))/math.Log(histGrowth))+1, len(h.buckets)-1)
	}
	h.buckets[i].Add(1)
}

// quantile returns the upper bound of the bucket holding quantile q.
func (h *histogram) quantile(q float64) time.Duration {
	var total int64
	for i := range h.buckets {
		total += h.buckets[i].Load()
	}
	if total == 0 {
		return 0
	}
	rank, seen := int64(math.Ceil(q*float64(total))), int64(0)
	for i := range h.buckets {
		if seen += h.buckets[i].Load(); seen >= rank {
			return time.Duration(float64(histMin) * math.Pow(histGrowth, float64(i)))
		}
	}
	return 0
}

// phaseStats is what one phase of the demo measured. The counters are
// written by the load workers and read by the view.
type phaseStats struct {
	name     string
	start    time.Time
	calls    atomic.Int64
	failed   atomic.Int64 // any error
	limited  atomic.Int64 // ResourceExhausted: a server's rate limiter refused
	breakerd atomic.Int64 // refused by the client's open breaker
	served   map[string]*atomic.Int64
	latency  histogram

	// The backend that served each user's first call (index + 1), and of
	// the later calls, how many another backend served.
	index       map[string]int // backend id → index
	usersFirst  [users]atomic.Int32
	repeatCalls atomic.Int64
	movedCalls  atomic.Int64
}

// users is the number of users whose keys the calls carry.
const users = 200

func newPhaseStats(name string, ids []string) *phaseStats {
	p := &phaseStats{name: name, start: time.Now(), served: make(map[string]*atomic.Int64, len(ids)), index: make(map[string]int, len(ids))}
	for i, id := range ids {
		p.served[id] = new(atomic.Int64)
		p.index[id] = i
	}
	return p
}

// servedUser records that backend id served a call of user.
func (p *phaseStats) servedUser(user int, id string) {
	me := int32(p.index[id] + 1)
	if p.usersFirst[user].CompareAndSwap(0, me) {
		return // the user's first call
	}
	p.repeatCalls.Add(1)
	if p.usersFirst[user].Load() != me {
		p.movedCalls.Add(1)
	}
}

// keysLine says, in the consistent-hash phase, how many calls went to
// another backend than their user's first call.
func (p *phaseStats) keysLine() string {
	if p.name != "consistenthash" {
		return ""
	}
	return fmt.Sprintf("\nusers' later calls served by another backend than their first: %d of %d", p.movedCalls.Load(), p.repeatCalls.Load())
}

// share returns the fraction of the calls that reached a backend which
// reached id.
func (p *phaseStats) share(id string) float64 {
	var total int64
	for _, c := range p.served {
		total += c.Load()
	}
	if total == 0 {
		return 0
	}
	return float64(p.served[id].Load()) / float64(total)
}

// metricCounter is a gRPC stats handler that only counts the int64 counter
// metrics the channel's balancers record, such as the outlier policy's
// ejections: the demo reads them through it.
type metricCounter struct {
	estats.UnimplementedMetricsRecorder
	mu     sync.Mutex
	counts map[string]int64
}

func newMetricCounter() *metricCounter { return &metricCounter{counts: map[string]int64{}} }

func (m *metricCounter) RecordInt64Count(h *estats.Int64CountHandle, incr int64, _ ...string) {
	m.mu.Lock()
	m.counts[h.Descriptor().Name] += incr
	m.mu.Unlock()
}

func (m *metricCounter) get(name string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counts[name]
}

func (m *metricCounter) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (m *metricCounter) HandleRPC(context.Context, stats.RPCStats)                       {}
func (m *metricCounter) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (m *metricCounter) HandleConn(context.Context, stats.ConnStats) {}

// watchedBuilder wraps a resolver builder to show the demo every state its
// resolver publishes: the instances the channel is balancing over.
type watchedBuilder struct {
	resolver.Builder
	mu  sync.Mutex
	ids []string
}

func (b *watchedBuilder) Build(t resolver.Target, cc resolver.ClientConn, o resolver.BuildOptions) (resolver.Resolver, error) {
	return b.Builder.Build(t, &watchedCC{ClientConn: cc, b: b}, o)
}

// instances returns the ids of the instances last published.
func (b *watchedBuilder) instances() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ids
}

type watchedCC struct {
	resolver.ClientConn
	b *watchedBuilder
}

func (c *watchedCC) UpdateState(s resolver.State) error {
	ids := make([]string, 0, len(s.Endpoints))
	for _, ep := range s.Endpoints {
		if inst, ok := kitresolver.InstanceFrom(ep); ok {
			ids = append(ids, inst.ID)
		}
	}
	c.b.mu.Lock()
	c.b.ids = ids
	c.b.mu.Unlock()
	return c.ClientConn.UpdateState(s)
}
