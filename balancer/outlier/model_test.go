package outlier

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/resolver"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestRandomSequences drives the policy through random sequences of failed
// and successful RPCs, time passing, resolver updates and config changes,
// and checks after every step that the ejected count matches the records,
// that no more endpoints are ejected than maxEjectionPercent of the current
// ones allows (also after endpoints left or the cap fell), that every
// ejection is in force for at most maxEjectionTime and none outlives its
// end, that the child sees exactly the ejected SubConns as ejected, and that
// picks reach exactly the endpoints not ejected.
func TestRandomSequences(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 9))
			h := newHarness(t, modelConfig(2, 50), 8)
			s := &modelRun{h: h, rng: rng, cfg: modelConfig(2, 50), live: slices.Clone(h.addrs)}
			for step := range 400 {
				did := s.step()
				s.check(t, fmt.Sprintf("step %d (%s)", step, did))
			}
		})
	}
}

const modelMaxEjection = 90 * time.Second

func modelConfig(consecutive, percent int) string {
	return fmt.Sprintf(`{"consecutiveFailures":%d,"failureRateThreshold":0.5,"failureRateMinRequests":4,
		"interval":"10s","baseEjectionTime":"30s","maxEjectionTime":"90s","maxEjectionPercent":%d}`, consecutive, percent)
}

type modelRun struct {
	h        *harness
	rng      *rand.Rand
	cfg      string
	live     []string // the addresses of the last resolver update
	nEjected int
}

func (s *modelRun) step() string {
	h, rng := s.h, s.rng
	switch r := rng.IntN(20); {
	case r < 7:
		i, n := s.liveIndex(), 1+rng.IntN(3)
		h.fail(i, n)
		return fmt.Sprintf("%d failures on %s", n, h.addrs[i])
	case r < 12:
		i, n := s.liveIndex(), 1+rng.IntN(4)
		h.succeed(i, n)
		h.sync()
		return fmt.Sprintf("%d successes on %s", n, h.addrs[i])
	case r < 17:
		d := []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, 45 * time.Second}[rng.IntN(5)]
		h.clock.Advance(d)
		h.sync()
		return fmt.Sprintf("%v passed", d)
	case r < 19:
		var live []string
		for _, a := range h.addrs {
			if rng.IntN(3) != 0 {
				live = append(live, a)
			}
		}
		if len(live) == 0 {
			live = h.addrs[:1]
		}
		s.live = live
		s.apply()
		return fmt.Sprintf("endpoints %v", live)
	default:
		s.cfg = modelConfig(rng.IntN(4), []int{0, 25, 50, 100}[rng.IntN(4)])
		s.apply()
		return "config " + s.cfg
	}
}

// liveIndex returns the index in h.addrs of a random live endpoint.
func (s *modelRun) liveIndex() int {
	return slices.Index(s.h.addrs, s.live[s.rng.IntN(len(s.live))])
}

// apply sends the current endpoints and config, and makes new SubConns
// READY.
func (s *modelRun) apply() {
	h := s.h
	cfg, err := parseConfig(json.RawMessage(s.cfg))
	if err != nil {
		h.t.Fatal(err)
	}
	insts := make([]kitresolver.Instance, len(s.live))
	for i, a := range s.live {
		insts[i] = kitresolver.Instance{Addr: a}
	}
	st := balancer.ClientConnState{ResolverState: resolver.State{Endpoints: kitresolver.Endpoints(insts)}, BalancerConfig: cfg}
	if err := h.b.UpdateClientConnState(st); err != nil {
		h.t.Fatal(err)
	}
	// New SubConns: READY, then, once the child has registered its health
	// listener on the serializer, the health update gRPC sends it.
	for range 2 {
		h.cc.SetAllReady()
		h.sync()
	}
	s.nEjected = h.ejectedCount()
}

func (h *harness) ejectedCount() int {
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	return h.b.nEjected
}

func (s *modelRun) check(t *testing.T, when string) {
	t.Helper()
	h := s.h
	now := h.clock.Now()
	var in []string
	h.b.mu.Lock()
	cfg, n, total := h.b.cfg.Load(), 0, len(h.b.order)
	for _, e := range h.b.order {
		left := e.until.Sub(now)
		switch {
		case e.ejected && (left <= 0 || left > modelMaxEjection || e.ejections < 1):
			h.b.mu.Unlock()
			t.Fatalf("after %s: %s ejected with %v left after %d ejections", when, e.addr, left, e.ejections)
		case e.ejections < 0 || e.consecutiveFailures() < 0:
			h.b.mu.Unlock()
			t.Fatalf("after %s: %s counts %d ejections, %d failures in a row", when, e.addr, e.ejections, e.consecutiveFailures())
		case e.ejected:
			n++
		default:
			in = append(in, e.addr)
		}
	}
	nEjected := h.b.nEjected
	h.b.mu.Unlock()
	if nEjected != n {
		t.Fatalf("after %s: nEjected %d, but %d records are ejected", when, nEjected, n)
	}
	if nEjected > cfg.maxEjected(total) {
		t.Fatalf("after %s: %d of %d endpoints ejected, over maxEjectionPercent %d", when, nEjected, total, cfg.maxEjectionPercent)
	}
	s.nEjected = nEjected
	s.checkSubConns(t, when)

	slices.SortFunc(in, func(a, b string) int { return slices.Index(h.addrs, a) - slices.Index(h.addrs, b) })
	if got := h.picked(4 * len(h.addrs)); fmt.Sprint(got) != fmt.Sprint(in) {
		t.Fatalf("after %s: picks reach %v, want the endpoints not ejected %v", when, got, in)
	}
}

// checkSubConns checks, on the serializer, that each SubConn is ejected
// exactly when its endpoint is.
func (s *modelRun) checkSubConns(t *testing.T, when string) {
	t.Helper()
	h := s.h
	errc := make(chan error, 1)
	h.b.serial.schedule(func() {
		h.b.mu.Lock()
		defer h.b.mu.Unlock()
		for _, e := range h.b.order {
			for sc := range e.subConns {
				if sc.ejected != e.ejected {
					errc <- fmt.Errorf("SubConn of %s ejected=%v, its endpoint ejected=%v", e.addr, sc.ejected, e.ejected)
					return
				}
			}
		}
		errc <- nil
	})
	if err := <-errc; err != nil {
		t.Fatalf("after %s: %v", when, err)
	}
}
