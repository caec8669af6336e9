package consul_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/resolver/consul"
)

// stubAgent answers every health query at once with one instance and the
// index its function gives for the nth request, and records when each
// request arrived.
type stubAgent struct {
	index func(n int) uint64

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
	body, _ := json.Marshal([]*api.ServiceEntry{{
		Node:    &api.Node{Node: "n", Address: "127.0.0.1"},
		Service: &api.AgentService{ID: "a", Service: "stub", Port: 1234, Weights: api.AgentWeights{Passing: 1, Warning: 1}},
	}})
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
