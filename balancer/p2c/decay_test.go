package p2c

import (
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/balancer/internal/shard"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestDecayTimeChangeKeepsEstimates changes decayTime in a live configuration
// an hour into the process: every estimate must be the same right after the
// change, then decay with the new time constant.
func TestDecayTimeChangeKeepsEstimates(t *testing.T) {
	h := newHarness(t)
	h.now.Store(int64(time.Hour))
	if err := h.update(nil, "10.0.0.1:1", "10.0.0.2:1"); err != nil {
		t.Fatal(err)
	}
	h.cc.SetAllReady()
	now := h.now.Load()
	h.statsOf("10.0.0.1:1").observe(float64(30*time.Millisecond), now)
	h.statsOf("10.0.0.2:1").observe(float64(10*time.Millisecond), now)
	for _, decay := range []time.Duration{2 * time.Second, time.Minute, 100 * time.Millisecond} {
		cfg := defaultConfig()
		cfg.DecayTime = shard.Duration(decay)
		if err := h.update(cfg, "10.0.0.1:1", "10.0.0.2:1"); err != nil {
			t.Fatal(err)
		}
		a, b := h.statsOf("10.0.0.1:1"), h.statsOf("10.0.0.2:1")
		for _, c := range []struct {
			s    *stats
			want time.Duration
		}{{a, 30 * time.Millisecond}, {b, 10 * time.Millisecond}} {
			if got := time.Duration(c.s.estimate(now)); got < c.want-time.Microsecond || got > c.want+time.Microsecond {
				t.Fatalf("after decayTime → %v: estimate %v, want %v", decay, got, c.want)
			}
		}
		if d := a.logKey() - b.logKey(); math.Abs(d-math.Log(3)) > 1e-6 {
			t.Fatalf("after decayTime → %v: keys differ by %g, want ln 3 (the 30ms endpoint must cost 3× the 10ms one)", decay, d)
		}
		later := now + int64(decay)
		if got, want := a.estimate(later), float64(30*time.Millisecond)/math.E; math.Abs(got-want) > 1e3 {
			t.Fatalf("decayTime %v after the change to it: estimate %v, want %v (1/e)", decay, time.Duration(got), time.Duration(want))
		}
	}
}

// decayModel is the estimate of one endpoint computed the plain way:
// est(t) = est0·e^-(t−t0)/τ, restarted at every change.
type decayModel struct {
	est0, t0, stamp float64
}

func (m *decayModel) at(now, tau float64) float64 { return m.est0 * math.Exp(-(now-m.t0)/tau) }

func (m *decayModel) observe(rtt, now, tau float64) {
	cur := m.at(now, tau)
	next := rtt
	if rtt < cur {
		w := 1.0
		if now > m.stamp {
			w = math.Exp(-(now - m.stamp) / tau)
		}
		next = cur + (rtt-cur)*(1-w)
	}
	m.est0, m.t0, m.stamp = max(next, 1), now, now
}

// decayEndpoint is an endpoint's stats beside its model.
type decayEndpoint struct {
	s *stats
	m decayModel
}

// decaySequence drives a policy with ops drawn from next (which returns a
// number in [0, n)): endpoints come and go, responses and failures are
// observed, time passes, and decayTime and errorPenalty change. After every
// step each estimate must be finite and match decayModel, and the picker's
// keys must order endpoints by estimate.
func decaySequence(t *testing.T, next func(n int) int, steps int) {
	t.Helper()
	var now int64
	p := newPolicy(func() int64 { return now }, func() uint64 { return 0 })
	tau, penalty := float64(DefaultDecayTime), float64(DefaultErrorPenalty)
	var eps []*decayEndpoint
	rebuild := func() {
		ready := make([]shard.Ready[*stats], len(eps))
		for i, e := range eps {
			ready[i] = shard.Ready[*stats]{Weight: 1, State: e.s}
		}
		p.Picker(ready, now)
	}
	add := func() {
		var sum float64
		for _, e := range eps {
			sum += e.m.at(float64(now), tau)
		}
		est := 0.0
		if len(eps) > 0 {
			est = sum / float64(len(eps))
		}
		eps = append(eps, &decayEndpoint{s: p.NewState(resolver.Endpoint{}, now), m: decayModel{est0: max(est, 1), t0: float64(now), stamp: float64(now)}})
		rebuild()
	}
	add()
	for step := range steps {
		var op string
		switch k := next(7); {
		case k == 0 && len(eps) < 8:
			op = "add"
			add()
		case k == 1 && len(eps) > 1:
			i := next(len(eps))
			op = fmt.Sprintf("remove %d", i)
			eps = append(eps[:i], eps[i+1:]...)
			rebuild()
		case k == 2:
			d := time.Duration(next(1<<20)) * time.Duration(1+next(4096)) * time.Microsecond / 64
			op = fmt.Sprintf("advance %v", d)
			now += int64(d)
		case k == 3:
			cfg := &Config{
				DecayTime:    shard.Duration(MinDecayTime + time.Duration(next(1<<16))*(MaxDecayTime-MinDecayTime)/(1<<16-1)),
				ErrorPenalty: shard.Duration(time.Duration(next(2000)) * time.Millisecond),
			}
			if cfg.ErrorPenalty < shard.Duration(MinErrorPenalty) {
				cfg.ErrorPenalty = 0
			}
			op = fmt.Sprintf("decayTime %v errorPenalty %v", time.Duration(cfg.DecayTime), time.Duration(cfg.ErrorPenalty))
			if err := p.SetConfig(cfg); err != nil {
				t.Fatalf("step %d: %s: %v", step, op, err)
			}
			if newTau := float64(time.Duration(cfg.DecayTime)); newTau != tau {
				for _, e := range eps {
					e.m.est0, e.m.t0 = max(e.m.at(float64(now), tau), 1), float64(now)
				}
				tau = newTau
			}
			penalty = float64(time.Duration(cfg.ErrorPenalty))
		case k == 4:
			i := next(len(eps))
			rtt := float64(time.Duration(next(1<<20)) * time.Microsecond / 16)
			op = fmt.Sprintf("observe %d %v", i, time.Duration(rtt))
			eps[i].s.observe(rtt, now)
			eps[i].m.observe(rtt, float64(now), tau)
		case k == 5:
			i := next(len(eps))
			op = fmt.Sprintf("unavailable %d", i)
			eps[i].s.inflight.Add(1)
			eps[i].s.finish(balancer.DoneInfo{Err: status.Error(codes.Unavailable, "down")})
			if penalty > 0 {
				eps[i].m.observe(penalty, float64(now), tau)
			}
		default:
			op = "nothing"
		}
		checkEstimates(t, step, op, now, tau, eps)
	}
}

// checkEstimates compares every endpoint with its model, and the keys of
// every pair with the ratio of their estimates.
func checkEstimates(t *testing.T, step int, op string, now int64, tau float64, eps []*decayEndpoint) {
	t.Helper()
	for i, e := range eps {
		got, want := e.s.estimate(now), e.m.at(float64(now), tau)
		if math.IsNaN(got) || math.IsInf(got, 0) || math.Abs(got-want) > 1e-6*want+1e-3 {
			t.Fatalf("step %d (%s): endpoint %d estimate %g ns, want %g ns", step, op, i, got, want)
		}
		if e.s.inflight.Load() != 0 {
			t.Fatalf("step %d (%s): endpoint %d has %d in flight, want 0", step, op, i, e.s.inflight.Load())
		}
	}
	for i := 1; i < len(eps); i++ {
		a, b := eps[i-1], eps[i]
		ea, eb := a.m.at(float64(now), tau), b.m.at(float64(now), tau)
		if ea < 2 || eb < 2 {
			continue // stored as at least 1ns: ratios of near-zero estimates are not kept
		}
		if d, want := a.s.logKey()-b.s.logKey(), math.Log(ea/eb); math.Abs(d-want) > 1e-5 {
			t.Fatalf("step %d (%s): keys of %d and %d differ by %g, want ln(%g/%g) = %g", step, op, i-1, i, d, ea, eb, want)
		}
	}
}

var decaySeed = flag.Uint64("p2c.seed", 0, "replay TestRandomDecaySequences from this seed (0: a new seed)")

// TestRandomDecaySequences runs seeded random sequences of config changes,
// responses and endpoint changes; the seed is printed, and -p2c.seed=<seed>
// replays a failure.
func TestRandomDecaySequences(t *testing.T) {
	seed, n := *decaySeed, 1
	if seed == 0 {
		seed, n = uint64(time.Now().UnixNano()), 20
	}
	t.Logf("seeds from %d", seed)
	for i := range n {
		s := seed + uint64(i)
		t.Run(fmt.Sprint(s), func(t *testing.T) {
			r := rand.New(rand.NewPCG(s, s))
			decaySequence(t, r.IntN, 500)
		})
	}
}

// FuzzDecaySequences is TestRandomDecaySequences driven by the fuzzer.
func FuzzDecaySequences(f *testing.F) {
	f.Add([]byte{3, 0, 0, 4, 0, 0, 2, 255, 255, 3, 255, 255, 4, 1})
	f.Add([]byte("decay time changes while an estimate is high"))
	f.Fuzz(func(t *testing.T, data []byte) {
		next := func(n int) int {
			if len(data) < 2 {
				return 0
			}
			v := int(binary.LittleEndian.Uint16(data))
			data = data[2:]
			return v % n
		}
		decaySequence(t, next, len(data)/2+1)
	})
}

// TestDecayTimeChangeRacesObservations changes decayTime while other
// goroutines observe responses, on a clock that stands still so that every
// estimate is the peak of what it saw: whatever the interleaving, each must
// end inside the range observed, stored under the last decay time.
func TestDecayTimeChangeRacesObservations(t *testing.T) {
	now := int64(24 * time.Hour)
	p := newPolicy(func() int64 { return now }, func() uint64 { return 0 })
	eps := make([]*stats, 4)
	for i := range eps {
		eps[i] = p.NewState(resolver.Endpoint{}, now)
		eps[i].observe(float64(time.Millisecond), now)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	for g := range eps {
		go func() {
			defer func() { done <- struct{}{} }()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for {
				select {
				case <-stop:
					return
				default:
				}
				eps[r.IntN(len(eps))].observe(float64(time.Millisecond+time.Duration(r.IntN(9000))*time.Microsecond), now)
			}
		}()
	}
	for i := range 2000 {
		cfg := defaultConfig()
		cfg.DecayTime = shard.Duration(MinDecayTime + time.Duration(i%7)*time.Second)
		if err := p.SetConfig(cfg); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	for range eps {
		<-done
	}
	tag := p.params.Load().tag
	for i, s := range eps {
		if got := time.Duration(s.estimate(now)); got < time.Millisecond-time.Microsecond || got > 10*time.Millisecond {
			t.Errorf("endpoint %d estimate %v, want within [1ms, 10ms]", i, got)
		}
		if k := s.key.Load() & (tagCount - 1); k != tag {
			t.Errorf("endpoint %d key tagged %d, want the last decay time's %d", i, k, tag)
		}
	}
}

// TestHugeWeightsAreCapped checks that an endpoint claiming a weight above
// MaxWeight counts as MaxWeight, so it cannot take every pick from its peers.
func TestHugeWeightsAreCapped(t *testing.T) {
	p := newPolicy(func() int64 { return 0 }, func() uint64 { return 0 })
	for _, w := range []uint32{kitresolver.MaxWeight, kitresolver.MaxWeight + 1, 1 << 31, 1<<32 - 1} {
		pk, _ := p.Picker([]shard.Ready[*stats]{{Weight: w, State: p.NewState(resolver.Endpoint{}, 0)}}, 0)
		if got, want := pk.(*picker).eps[0].logInvWeight, -math.Log(kitresolver.MaxWeight); got != want {
			t.Errorf("weight %d: −ln weight %g, want %g (MaxWeight)", w, got, want)
		}
	}
}

// TestObserveAcrossTagWrap: an observation that read the params, then lost
// the processor while DecayTime changed tagCount times (so that its params'
// tag names another decay time again), must not store a key under its stale
// decay time: the estimate stays what it was.
func TestObserveAcrossTagWrap(t *testing.T) {
	now := int64(1000 * time.Second)
	p := newPolicy(func() int64 { return now }, func() uint64 { return 0 })
	s := p.NewState(resolver.Endpoint{}, now)
	s.observe(float64(time.Millisecond), now-int64(time.Second)) // a second ago: the next observation blends
	stale := p.params.Load()
	for i := range tagCount {
		cfg := defaultConfig()
		cfg.DecayTime = shard.Duration(time.Second * time.Duration(1+i%2))
		if err := p.SetConfig(cfg); err != nil {
			t.Fatal(err)
		}
	}
	if cur := p.params.Load(); cur.tag != stale.tag || cur.tau == stale.tau {
		t.Fatalf("after %d changes: tag %d, tau %v; want the stale tag %d under another tau than %v", tagCount, cur.tag, cur.tau, stale.tag, stale.tau)
	}
	// The stale observation resumes: it reads the key and tries to store.
	want := s.estimate(now)
	s.tryObserve(stale, float64(time.Millisecond), now)
	if got := s.estimate(now); math.Abs(got/want-1) > 1e-9 {
		t.Errorf("estimate %v after a stale observation across a tag wrap, want it left at %v", time.Duration(got), time.Duration(want))
	}
	s.observe(float64(2*time.Millisecond), now)
	if got := s.estimate(now); math.Abs(got/float64(2*time.Millisecond)-1) > 1e-6 {
		t.Errorf("estimate %v after observing 2ms, want 2ms", time.Duration(got))
	}
}
