package p2c

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/balancer/internal/shard"
	"github.com/grpckit/grpckit/balancer/internal/shardtest"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// harness is a p2c balancer on a fake ClientConn and a virtual clock.
type harness struct {
	t   *testing.T
	cc  *shardtest.ClientConn
	b   *shard.Balancer[*stats]
	now atomic.Int64 // read from gRPC's goroutines too
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, cc: shardtest.NewClientConn(t)}
	clock := h.now.Load
	h.b = shard.New(h.cc, balancer.BuildOptions{}, "p2c", newPolicy(clock, func() uint64 { return 0 }), clock, logger)
	t.Cleanup(h.b.Close)
	return h
}

func (h *harness) update(cfg *Config, addrs ...string) error {
	insts := make([]kitresolver.Instance, len(addrs))
	for i, a := range addrs {
		insts[i] = kitresolver.Instance{Service: "greeter", Addr: a}
	}
	return h.b.UpdateClientConnState(balancer.ClientConnState{
		ResolverState:  resolver.State{Endpoints: kitresolver.Endpoints(insts)},
		BalancerConfig: cfg,
	})
}

func (h *harness) picker() *picker {
	h.t.Helper()
	s := h.cc.LastState()
	p, ok := s.Picker.(*picker)
	if s.ConnectivityState != connectivity.Ready || !ok {
		h.t.Fatalf("state %v with picker %T, want READY with a p2c picker", s.ConnectivityState, s.Picker)
	}
	return p
}

// statsOf returns the stats the newest picker holds for addr.
func (h *harness) statsOf(addr string) *stats {
	h.t.Helper()
	p := h.picker()
	for _, e := range p.eps {
		res, _ := e.picker.Pick(balancer.PickInfo{Ctx: context.Background()})
		if shardtest.Addr(res.SubConn) == addr {
			return e.stats
		}
	}
	h.t.Fatalf("no READY endpoint %s in the picker", addr)
	return nil
}

func TestStatsSurvivePickerRebuilds(t *testing.T) {
	h := newHarness(t)
	if err := h.update(nil, "10.0.0.1:1", "10.0.0.2:1"); err != nil {
		t.Fatal(err)
	}
	h.cc.SetAllReady()
	s := h.statsOf("10.0.0.1:1")
	s.observe(float64(20*time.Millisecond), 0)
	s.inflight.Add(3)
	if err := h.update(nil, "10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"); err != nil {
		t.Fatal(err)
	}
	h.cc.SubConnFor("10.0.0.3:1").UpdateState(connectivity.Ready)
	if got := h.statsOf("10.0.0.1:1"); got != s || got.inflight.Load() != 3 {
		t.Errorf("after a rebuild, 10.0.0.1 has stats %p (in flight %d), want the same %p (3)", got, got.inflight.Load(), s)
	}
	if n := len(h.picker().eps); n != 3 {
		t.Errorf("picker has %d endpoints, want 3", n)
	}
}

func TestNewEndpointStartsAtNeutralCost(t *testing.T) {
	h := newHarness(t)
	if err := h.update(nil, "10.0.0.1:1", "10.0.0.2:1"); err != nil {
		t.Fatal(err)
	}
	h.cc.SetAllReady()
	h.statsOf("10.0.0.1:1").observe(float64(10*time.Millisecond), 0)
	h.statsOf("10.0.0.2:1").observe(float64(30*time.Millisecond), 0)
	if err := h.update(nil, "10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"); err != nil {
		t.Fatal(err)
	}
	h.cc.SubConnFor("10.0.0.3:1").UpdateState(connectivity.Ready)
	got := time.Duration(h.statsOf("10.0.0.3:1").estimate(0))
	if got < 20*time.Millisecond-time.Microsecond || got > 20*time.Millisecond+time.Microsecond {
		t.Errorf("new endpoint's estimate = %v, want the mean 20ms", got)
	}
}

func TestNoReadyEndpointQueuesPicks(t *testing.T) {
	h := newHarness(t)
	if err := h.update(nil, "10.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	s := h.cc.LastState()
	if _, err := s.Picker.Pick(balancer.PickInfo{Ctx: context.Background()}); s.ConnectivityState != connectivity.Connecting || !errors.Is(err, balancer.ErrNoSubConnAvailable) {
		t.Errorf("state %v, Pick error %v; want CONNECTING and ErrNoSubConnAvailable", s.ConnectivityState, err)
	}
}

func TestEmptyEndpointListFailsFast(t *testing.T) {
	h := newHarness(t)
	if err := h.update(nil, "10.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	h.cc.SetAllReady()
	if err := h.update(nil); !errors.Is(err, balancer.ErrBadResolverState) {
		t.Fatalf("UpdateClientConnState(no endpoints) = %v, want ErrBadResolverState", err)
	}
	s := h.cc.LastState()
	_, err := s.Picker.Pick(balancer.PickInfo{Ctx: context.Background()})
	if s.ConnectivityState != connectivity.TransientFailure || err == nil || !strings.HasPrefix(err.Error(), "p2c: ") {
		t.Errorf("state %v, Pick error %v; want TRANSIENT_FAILURE and a p2c error", s.ConnectivityState, err)
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		js      string
		want    [3]time.Duration // decay, penalty, slow start
		wantErr string
	}{
		{js: `{}`, want: [3]time.Duration{DefaultDecayTime, DefaultErrorPenalty, 0}},
		{js: `{"decayTime":"2s","errorPenalty":"250ms","slowStartWindow":"30s"}`, want: [3]time.Duration{2 * time.Second, 250 * time.Millisecond, 30 * time.Second}},
		{js: `{"decayTime":"100ms","errorPenalty":"0s","slowStartWindow":"0s"}`, want: [3]time.Duration{100 * time.Millisecond, 0, 0}},
		{js: `{"decayTime":"1h","errorPenalty":"1ms","slowStartWindow":"1s"}`, want: [3]time.Duration{time.Hour, time.Millisecond, time.Second}},
		{js: `{"decayTime":"0s"}`, wantErr: "decayTime 0s is under 100ms"},
		{js: `{"decayTime":"1ns"}`, wantErr: "decayTime 1ns is under 100ms"},
		{js: `{"decayTime":"99ms"}`, wantErr: "decayTime 99ms is under 100ms"},
		{js: `{"decayTime":"1h0m1s"}`, wantErr: "decayTime 1h0m1s is over 1h0m0s"},
		{js: `{"errorPenalty":"1ns"}`, wantErr: "errorPenalty 1ns is under 1ms"},
		{js: `{"errorPenalty":"999us"}`, wantErr: "errorPenalty 999µs is under 1ms"},
		{js: `{"slowStartWindow":"1ns"}`, wantErr: "slowStartWindow 1ns is under 1s"},
		{js: `{"slowStartWindow":"999ms"}`, wantErr: "slowStartWindow 999ms is under 1s"},
		{js: `{"errorPenalty":"-1s"}`, wantErr: "negative"},
		{js: `{"decay":"1s"}`, wantErr: "unknown field"},
	}
	for _, tt := range tests {
		cfg, err := builder{}.ParseConfig([]byte(tt.js))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "p2c: ") {
				t.Errorf("ParseConfig(%s) error = %v, want a p2c error containing %q", tt.js, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseConfig(%s): %v", tt.js, err)
			continue
		}
		c := cfg.(*Config)
		if err := newPolicy(shard.Monotonic, nil).SetConfig(c); err != nil {
			t.Errorf("SetConfig(ParseConfig(%s)): %v", tt.js, err)
		}
		got := [3]time.Duration{time.Duration(c.DecayTime), time.Duration(c.ErrorPenalty), time.Duration(c.SlowStartWindow)}
		if got != tt.want {
			t.Errorf("ParseConfig(%s) = %v, want %v", tt.js, got, tt.want)
		}
	}
}

// TestSetConfigRefusesBounds checks that a Config built in code, not parsed,
// is held to the same bounds.
func TestSetConfigRefusesBounds(t *testing.T) {
	for _, c := range []*Config{
		{DecayTime: 0},
		{DecayTime: shard.Duration(time.Nanosecond)},
		{DecayTime: shard.Duration(DefaultDecayTime), ErrorPenalty: 1},
		{DecayTime: shard.Duration(DefaultDecayTime), SlowStartWindow: 1},
	} {
		if err := newPolicy(shard.Monotonic, nil).SetConfig(c); err == nil || !strings.HasPrefix(err.Error(), "p2c: invalid config: ") {
			t.Errorf("SetConfig(%+v) = %v, want a p2c error", *c, err)
		}
	}
}
