package consul_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/internal/testutil"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/consul"
)

// stubAgent answers every health query at once with one instance and the
// index its function gives for the nth request, and records when each
// request arrived.
type stubAgent struct {
	index func(n int) uint64
	empty func(n int) bool // nil: never empty

	mu    sync.Mutex
	times []time.Time
}

func (s *stubAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/v1/health/service/") {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	n := len(s.times)
	s.times = append(s.times, time.Now())
	s.mu.Unlock()
	entries := []*api.ServiceEntry{{
		Node:    &api.Node{Node: "n", Address: "127.0.0.1"},
		Service: &api.AgentService{ID: "a", Service: "stub", Port: 1234, Weights: api.AgentWeights{Passing: 1, Warning: 1}},
	}}
	if s.empty != nil && s.empty(n) {
		entries = nil
	}
	body, _ := json.Marshal(entries)
	w.Header().Set("X-Consul-Index", strconv.FormatUint(s.index(n), 10))
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// requestsIn counts the requests in [from, from+window).
func (s *stubAgent) requestsIn(from time.Time, window time.Duration) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.times {
		if !t.Before(from) && t.Before(from.Add(window)) {
			n++
		}
	}
	return n
}

func (s *stubAgent) first() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.times) == 0 {
		return time.Time{}, false
	}
	return s.times[0], true
}

// TestIndexAnomaliesDoNotSpin: an agent that answers at once with an index
// that stays 0, goes backwards or never moves gets at most one query per
// minimum interval, and the resolver keeps serving what it returned.
func TestIndexAnomaliesDoNotSpin(t *testing.T) {
	t.Parallel()
	const (
		minInterval = 100 * time.Millisecond
		window      = time.Second
	)
	tests := []struct {
		name  string
		index func(n int) uint64
	}{
		{"zero", func(int) uint64 { return 0 }},
		{"backwards", func(n int) uint64 { return uint64(1000 - n) }},
		{"stuck", func(int) uint64 { return 7 }},
		{"backwards to zero", func(n int) uint64 { return uint64(n%2) * 5 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stub := &stubAgent{index: tt.index}
			srv := httptest.NewServer(stub)
			t.Cleanup(srv.Close)
			b := consul.NewBuilder(consul.WithMinQueryInterval(minInterval))
			cc := buildResolver(t, b, "consul://"+srv.Listener.Addr().String()+"/stub")
			waitState(t, cc, func(s resolver.State) bool { return len(s.Endpoints) == 1 })
			start, _ := stub.first()
			time.Sleep(time.Until(start.Add(window + 50*time.Millisecond)))
			n := stub.requestsIn(start, window)
			if max := int(window/minInterval) + 2; n > max {
				t.Fatalf("%d requests in %v, want at most %d: the loop spins", n, window, max)
			}
			if n < 3 {
				t.Fatalf("%d requests in %v, want the loop to keep querying", n, window)
			}
		})
	}
}

// TestEmptyAfterResetIsHeldBack: after the index goes backwards (a restarted
// agent that forgot its services) an empty answer is held back for the
// recovery grace, then published if it persists.
func TestEmptyAfterResetIsHeldBack(t *testing.T) {
	t.Parallel()
	const grace = 700 * time.Millisecond
	// One instance at index 100, then an agent that restarted empty (index 3).
	stub := &stubAgent{
		index: func(n int) uint64 { return map[bool]uint64{true: 100, false: 3}[n == 0] },
		empty: func(n int) bool { return n > 0 },
	}
	srv := httptest.NewServer(stub)
	t.Cleanup(srv.Close)
	b := consul.NewBuilder(consul.WithMinQueryInterval(50*time.Millisecond), consul.WithRecoveryGrace(grace))
	cc := buildResolver(t, b, "consul://"+srv.Listener.Addr().String()+"/stub")
	waitState(t, cc, func(s resolver.State) bool { return len(s.Endpoints) == 1 })
	published := time.Now()
	waitState(t, cc, func(s resolver.State) bool { return len(s.Endpoints) == 0 })
	if d := time.Since(published); d < grace-100*time.Millisecond {
		t.Fatalf("empty set published %v after the reset, want it held back for about %v", d, grace)
	}
}

// TestUpdateStateErrorIsRetried: when the channel rejects a state, the
// resolver publishes again after a backoff, and stops once it is accepted.
func TestUpdateStateErrorIsRetried(t *testing.T) {
	t.Parallel()
	stub := &stubAgent{index: func(int) uint64 { return 10 }}
	srv := httptest.NewServer(stub)
	t.Cleanup(srv.Close)
	b := consul.NewBuilder(consul.WithBackoff(kitresolver.Backoff{Base: 20 * time.Millisecond, Max: 50 * time.Millisecond, Multiplier: 2}))
	u, _ := url.Parse("consul://" + srv.Listener.Addr().String() + "/stub")
	cc := testutil.NewResolverClientConn()
	cc.SetUpdateStateErr(errors.New("rejected"))
	r, err := b.Build(resolver.Target{URL: *u}, cc, resolver.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	for range 3 {
		if _, err := cc.States.Receive(ctx); err != nil {
			t.Fatalf("rejected state not published again: %v", err)
		}
	}
	cc.SetUpdateStateErr(nil)
	if _, err := cc.States.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	cc.States.Drain()
	short := timeoutCtx(t, 300*time.Millisecond)
	if s, err := cc.States.Receive(short); err == nil {
		t.Fatalf("state %v published again after it was accepted", s)
	}
}

// TestAlwaysZeroIndexPublishesEmpty: an agent or proxy that answers index 0
// to every query has no index to go backwards, so its answers are not resets:
// a service it says is empty is published without the recovery grace.
func TestAlwaysZeroIndexPublishesEmpty(t *testing.T) {
	t.Parallel()
	var emptied atomic.Bool
	stub := &stubAgent{index: func(int) uint64 { return 0 }, empty: func(int) bool { return emptied.Load() }}
	srv := httptest.NewServer(stub)
	t.Cleanup(srv.Close)
	b := consul.NewBuilder(consul.WithMinQueryInterval(20*time.Millisecond), consul.WithRecoveryGrace(time.Hour))
	cc := buildResolver(t, b, "consul://"+srv.Listener.Addr().String()+"/stub")
	waitState(t, cc, func(s resolver.State) bool { return len(s.Endpoints) == 1 })
	emptied.Store(true)
	waitState(t, cc, func(s resolver.State) bool { return len(s.Endpoints) == 0 })
}

// TestRejectedEmptySetIsNotRetried: a channel whose balancer rejects an empty
// set (as round_robin does) has still received it; the resolver does not
// treat the rejection as an error to retry, and the query loop goes on.
func TestRejectedEmptySetIsNotRetried(t *testing.T) {
	t.Parallel()
	stub := &stubAgent{index: func(int) uint64 { return 10 }, empty: func(int) bool { return true }}
	srv := httptest.NewServer(stub)
	t.Cleanup(srv.Close)
	b := consul.NewBuilder(
		consul.WithMinQueryInterval(20*time.Millisecond),
		consul.WithBackoff(kitresolver.Backoff{Base: 10 * time.Millisecond, Max: 10 * time.Millisecond, Multiplier: 1}))
	u, _ := url.Parse("consul://" + srv.Listener.Addr().String() + "/stub")
	cc := testutil.NewResolverClientConn()
	cc.SetUpdateStateErr(errors.New("produced zero addresses"))
	r, err := b.Build(resolver.Target{URL: *u}, cc, resolver.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	if _, err := cc.States.Receive(timeoutCtx(t, testutil.DefaultTimeout)); err != nil {
		t.Fatalf("empty set not published: %v", err)
	}
	start := time.Now()
	short := timeoutCtx(t, 300*time.Millisecond)
	if s, err := cc.States.Receive(short); err == nil {
		t.Fatalf("rejected empty set published again (%v): the rejection was taken for an error", s)
	}
	if n := stub.requestsIn(start, 300*time.Millisecond); n < 2 {
		t.Fatalf("%d queries in 300ms after the empty set, want the loop to go on", n)
	}
}
