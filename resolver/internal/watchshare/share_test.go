package watchshare

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/internal/testutil"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

var testBackoff = kitresolver.Backoff{Base: 5 * time.Millisecond, Max: 20 * time.Millisecond, Multiplier: 2}

// fakeWatches starts watches that do nothing but count and hand out their hub.
type fakeWatches struct {
	started, stopped atomic.Int64
	mu               sync.Mutex
	hubs             []*Hub
}

func (f *fakeWatches) start(h *Hub) func() {
	f.started.Add(1)
	f.mu.Lock()
	f.hubs = append(f.hubs, h)
	f.mu.Unlock()
	return func() { f.stopped.Add(1) }
}

func (f *fakeWatches) hub(i int) *Hub {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hubs[i]
}

func join(g *Group[string], f *fakeWatches, key string) (*testutil.ResolverClientConn, *Member) {
	cc := testutil.NewResolverClientConn()
	return cc, g.Join(key, cc, nil, testBackoff, f.start)
}

func endpoints(addrs ...string) []resolver.Endpoint {
	insts := make([]kitresolver.Instance, len(addrs))
	for i, a := range addrs {
		insts[i] = kitresolver.Instance{ID: a, Service: "s", Addr: a, Weight: 1}
	}
	return kitresolver.Endpoints(insts)
}

func addrsOf(cc *testutil.ResolverClientConn) []string {
	s, ok := cc.LastState()
	if !ok {
		return nil
	}
	out := []string{}
	for _, ep := range s.Endpoints {
		out = append(out, ep.Addresses[0].Addr)
	}
	return out
}

// TestLateMemberGetsCurrentState: a member joining a running watch has the
// newest answer when Join returns, and a failure after that answer does not
// reach its channel as an error.
func TestLateMemberGetsCurrentState(t *testing.T) {
	var g Group[string]
	var f fakeWatches
	cc1, m1 := join(&g, &f, "k")
	defer m1.Close()
	h := f.hub(0)
	h.Publish(endpoints("10.0.0.1:1", "10.0.0.2:1"))
	if h.Fail(errors.New("registry down")) {
		t.Fatal("a failure after an answer was reported to a channel")
	}
	cc2, m2 := join(&g, &f, "k")
	defer m2.Close()
	if got, want := addrsOf(cc2), addrsOf(cc1); !slices.Equal(got, want) || len(got) != 2 {
		t.Fatalf("late member has %v when Join returns, want %v", got, want)
	}
	if err, ok := cc2.Errors.Drain(); ok {
		t.Fatalf("late member's channel got error %v after an answer", err)
	}
	if n := f.started.Load(); n != 1 {
		t.Fatalf("%d watches started for one key, want 1", n)
	}
}

// observingCC is a ClientConn that observes the registry errors kept from
// its channel (kitresolver.ErrorObserver).
type observingCC struct {
	*testutil.ResolverClientConn
	mu       sync.Mutex
	observed int
}

func (c *observingCC) RegistryError(error) {
	c.mu.Lock()
	c.observed++
	c.mu.Unlock()
}

// TestFailAfterAnswerObserved: a failure after the first answer, kept from
// every channel, reaches each member's ClientConn that observes errors,
// once per failure.
func TestFailAfterAnswerObserved(t *testing.T) {
	var g Group[string]
	var f fakeWatches
	ccs := []*observingCC{{ResolverClientConn: testutil.NewResolverClientConn()}, {ResolverClientConn: testutil.NewResolverClientConn()}}
	for _, cc := range ccs {
		m := g.Join("k", cc, nil, testBackoff, f.start)
		defer m.Close()
	}
	h := f.hub(0)
	h.Fail(errors.New("before"))
	h.Publish(endpoints("10.0.0.1:1"))
	h.Fail(errors.New("after"))
	h.Fail(errors.New("after, again"))
	for i, cc := range ccs {
		cc.mu.Lock()
		n := cc.observed
		cc.mu.Unlock()
		if n != 2 {
			t.Errorf("channel %d observed %d errors, want the 2 after the answer", i, n)
		}
		if _, ok := cc.Errors.Drain(); !ok {
			t.Errorf("channel %d was not told of the error before the answer", i)
		}
	}
}

// TestFailBeforeAnswer: before the first answer a failure reaches every
// channel, a late one too, and the answer then replaces it.
func TestFailBeforeAnswer(t *testing.T) {
	var g Group[string]
	var f fakeWatches
	cc1, m1 := join(&g, &f, "k")
	defer m1.Close()
	if !f.hub(0).Fail(errors.New("registry down")) {
		t.Fatal("Fail before any answer reported to no channel")
	}
	cc2, m2 := join(&g, &f, "k")
	defer m2.Close()
	for i, cc := range []*testutil.ResolverClientConn{cc1, cc2} {
		if _, ok := cc.Errors.Drain(); !ok {
			t.Fatalf("channel %d got no error before the first answer", i)
		}
	}
	f.hub(0).Publish(nil)
	for i, cc := range []*testutil.ResolverClientConn{cc1, cc2} {
		if s, ok := cc.LastState(); !ok || len(s.Endpoints) != 0 {
			t.Fatalf("channel %d: state %v, %t; want the empty answer", i, s, ok)
		}
	}
}

// TestLastMemberStopsWatch: the watch stops with its last member, once, and
// a later Join starts a new one.
func TestLastMemberStopsWatch(t *testing.T) {
	var g Group[string]
	var f fakeWatches
	_, m1 := join(&g, &f, "k")
	_, m2 := join(&g, &f, "k")
	_, other := join(&g, &f, "other")
	m1.Close()
	if f.stopped.Load() != 0 || g.Watches() != 2 {
		t.Fatalf("after one of two members closed: %d stopped, %d running", f.stopped.Load(), g.Watches())
	}
	m2.Close()
	m2.Close()
	if f.stopped.Load() != 1 || g.Watches() != 1 {
		t.Fatalf("after the last member closed: %d stopped, %d running; want 1 and 1", f.stopped.Load(), g.Watches())
	}
	_, m3 := join(&g, &f, "k")
	m3.Close()
	other.Close()
	if f.started.Load() != 3 || f.stopped.Load() != 3 || g.Watches() != 0 {
		t.Fatalf("started %d, stopped %d, running %d; want 3, 3, 0", f.started.Load(), f.stopped.Load(), g.Watches())
	}
}

// TestRejectedStateRetriedByMemberOnly: a channel that rejects a state is
// offered it again on its own backoff; the others are not disturbed, and a
// newer state or Close ends the retries.
func TestRejectedStateRetriedByMemberOnly(t *testing.T) {
	var g Group[string]
	var f fakeWatches
	ccBad, mBad := join(&g, &f, "k")
	ccGood, mGood := join(&g, &f, "k")
	defer mGood.Close()
	ccBad.SetUpdateStateErr(errors.New("rejected"))
	f.hub(0).Publish(endpoints("10.0.0.1:1"))
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	for i := range 4 { // the first offer and three retries
		if _, err := ccBad.States.Receive(ctx); err != nil {
			t.Fatalf("offer %d of a rejected state: %v", i, err)
		}
	}
	if _, ok := ccGood.States.Drain(); !ok {
		t.Fatal("the accepting channel got no state")
	}
	if s, ok := ccGood.States.Drain(); ok {
		t.Fatalf("the accepting channel was offered %v again", s)
	}
	ccBad.SetUpdateStateErr(nil)
	if _, err := ccBad.States.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	ccBad.States.Drain()
	short, cancelShort := context.WithTimeout(context.Background(), 10*testBackoff.Max)
	defer cancelShort()
	if s, err := ccBad.States.Receive(short); err == nil {
		t.Fatalf("state %v offered again after it was accepted", s)
	}
	ccBad.SetUpdateStateErr(errors.New("rejected"))
	f.hub(0).Publish(endpoints("10.0.0.2:1"))
	mBad.Close() // goleak checks that no retry outlives it
	ccBad.States.Drain()
	short2, cancel2 := context.WithTimeout(context.Background(), 10*testBackoff.Max)
	defer cancel2()
	if s, err := ccBad.States.Receive(short2); err == nil {
		t.Fatalf("state %v offered after Close", s)
	}
}

// TestConcurrentMembersConverge runs joins, closes, answers and failures
// together: at any time one watch at most runs per key, every member that
// stays ends with the newest answer, and every watch started is stopped.
func TestConcurrentMembersConverge(t *testing.T) {
	var g Group[string]
	var running, maxRunning, started, stopped atomic.Int64
	var hubs sync.Map // key -> *Hub
	start := func(key string) func(*Hub) func() {
		return func(h *Hub) func() {
			started.Add(1)
			n := running.Add(1)
			for m := maxRunning.Load(); n > m && !maxRunning.CompareAndSwap(m, n); m = maxRunning.Load() {
			}
			hubs.Store(key, h)
			return func() { running.Add(-1); stopped.Add(1) }
		}
	}
	keys := []string{"a", "b"}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range 200 {
				key := keys[r.IntN(len(keys))]
				cc := testutil.NewResolverClientConn()
				m := g.Join(key, cc, nil, testBackoff, start(key))
				if r.IntN(2) == 0 {
					m.Hub().Publish(endpoints(fmt.Sprintf("10.0.0.%d:1", r.IntN(200))))
				} else {
					m.Hub().Fail(errors.New("down"))
				}
				m.Close()
			}
		})
	}
	// Members that stay, and answers published while the others churn.
	ccs := map[string]*testutil.ResolverClientConn{}
	var stay []*Member
	for _, key := range keys {
		cc := testutil.NewResolverClientConn()
		ccs[key] = cc
		stay = append(stay, g.Join(key, cc, nil, testBackoff, start(key)))
	}
	wg.Wait()
	for i, key := range keys {
		stay[i].Hub().Publish(endpoints("10.1.0." + fmt.Sprint(i) + ":1"))
		if got := addrsOf(ccs[key]); !slices.Equal(got, []string{"10.1.0." + fmt.Sprint(i) + ":1"}) {
			t.Fatalf("member of %s has %v, want the newest answer", key, got)
		}
	}
	if maxRunning.Load() > int64(len(keys))*2 {
		// A watch being stopped may overlap the next one of its key, never more.
		t.Fatalf("%d watches ran at once for %d keys", maxRunning.Load(), len(keys))
	}
	for _, m := range stay {
		m.Close()
	}
	if started.Load() != stopped.Load() || g.Watches() != 0 {
		t.Fatalf("started %d, stopped %d, still running %d", started.Load(), stopped.Load(), g.Watches())
	}
}
