package wrr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/balancer/internal/shardtest"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// harness is a wrr balancer on a fake ClientConn.
type harness struct {
	t  *testing.T
	cc *shardtest.ClientConn
	b  balancer.Balancer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	cc := shardtest.NewClientConn(t)
	b := balancer.Get(Name).Build(cc, balancer.BuildOptions{})
	t.Cleanup(b.Close)
	return &harness{t: t, cc: cc, b: b}
}

// update sends endpoints named "addr:weight" to the balancer.
func (h *harness) update(cfg *Config, specs ...string) error {
	h.t.Helper()
	return h.b.UpdateClientConnState(balancer.ClientConnState{
		ResolverState:  resolver.State{Endpoints: endpoints(specs...)},
		BalancerConfig: cfg,
	})
}

// endpoints turns "addr:weight" specs into endpoints carrying an Instance.
func endpoints(specs ...string) []resolver.Endpoint {
	insts := make([]kitresolver.Instance, 0, len(specs))
	for _, s := range specs {
		var w uint32
		i := strings.LastIndexByte(s, '/')
		fmt.Sscan(s[i+1:], &w)
		insts = append(insts, kitresolver.Instance{Service: "greeter", Addr: s[:i], Weight: w})
	}
	return kitresolver.Endpoints(insts)
}

// picker returns the newest picker, which must be READY.
func (h *harness) picker() balancer.Picker {
	h.t.Helper()
	s := h.cc.LastState()
	if s.ConnectivityState != connectivity.Ready {
		h.t.Fatalf("balancer state %v, want READY", s.ConnectivityState)
	}
	return s.Picker
}

// picks picks n times and returns the addresses picked.
func picks(t *testing.T, p balancer.Picker, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		res, err := p.Pick(balancer.PickInfo{Ctx: context.Background()})
		if err != nil {
			t.Fatalf("Pick: %v", err)
		}
		out[i] = shardtest.Addr(res.SubConn)
	}
	return out
}

func count(addrs []string) map[string]int {
	m := make(map[string]int)
	for _, a := range addrs {
		m[a]++
	}
	return m
}

func TestPicksFollowWeightsSmoothly(t *testing.T) {
	h := newHarness(t)
	if err := h.update(nil, "10.0.0.1:1/5", "10.0.0.2:1/1", "10.0.0.3:1/1"); err != nil {
		t.Fatal(err)
	}
	h.cc.SetAllReady()
	got := picks(t, h.picker(), 70)
	want := map[string]int{"10.0.0.1:1": 50, "10.0.0.2:1": 10, "10.0.0.3:1": 10}
	if c := count(got); fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("counts over 10 periods = %v, want %v", c, want)
	}
	run := 0
	for _, a := range got {
		if a == "10.0.0.1:1" {
			run++
		} else {
			run = 0
		}
		if run >= 5 {
			t.Fatalf("heavy endpoint picked 5 times in a row: %v", got)
		}
	}
}

func TestOnlyReadyEndpointsArePicked(t *testing.T) {
	h := newHarness(t)
	if err := h.update(nil, "10.0.0.1:1/1", "10.0.0.2:1/1", "10.0.0.3:1/1"); err != nil {
		t.Fatal(err)
	}
	h.cc.SubConnFor("10.0.0.1:1").UpdateState(connectivity.Ready)
	h.cc.SubConnFor("10.0.0.2:1").UpdateState(connectivity.Ready)
	if c := count(picks(t, h.picker(), 20)); c["10.0.0.3:1"] != 0 || c["10.0.0.1:1"] != 10 {
		t.Errorf("with 2 of 3 READY, counts = %v, want 10 each on the READY ones", c)
	}
	h.cc.SubConnFor("10.0.0.2:1").UpdateState(connectivity.Idle)
	if c := count(picks(t, h.picker(), 20)); c["10.0.0.1:1"] != 20 {
		t.Errorf("after 10.0.0.2 left READY, counts = %v, want all on 10.0.0.1", c)
	}
}

func TestNoReadyEndpointQueuesPicks(t *testing.T) {
	h := newHarness(t)
	if err := h.update(nil, "10.0.0.1:1/1"); err != nil {
		t.Fatal(err)
	}
	s := h.cc.LastState()
	if s.ConnectivityState != connectivity.Connecting {
		t.Fatalf("state %v, want CONNECTING", s.ConnectivityState)
	}
	if _, err := s.Picker.Pick(balancer.PickInfo{Ctx: context.Background()}); !errors.Is(err, balancer.ErrNoSubConnAvailable) {
		t.Errorf("Pick while connecting: %v, want ErrNoSubConnAvailable", err)
	}
}

func TestEmptyEndpointListFailsFast(t *testing.T) {
	h := newHarness(t)
	if err := h.update(nil, "10.0.0.1:1/1"); err != nil {
		t.Fatal(err)
	}
	h.cc.SetAllReady()
	if err := h.update(nil); !errors.Is(err, balancer.ErrBadResolverState) {
		t.Fatalf("UpdateClientConnState(no endpoints) = %v, want ErrBadResolverState", err)
	}
	s := h.cc.LastState()
	_, err := s.Picker.Pick(balancer.PickInfo{Ctx: context.Background()})
	if s.ConnectivityState != connectivity.TransientFailure || err == nil || !strings.HasPrefix(err.Error(), "wrr: ") {
		t.Errorf("state %v, Pick error %v; want TRANSIENT_FAILURE and a wrr error", s.ConnectivityState, err)
	}
}

func TestWeightChangeRebuildsPicker(t *testing.T) {
	h := newHarness(t)
	if err := h.update(nil, "10.0.0.1:1/1", "10.0.0.2:1/1"); err != nil {
		t.Fatal(err)
	}
	h.cc.SetAllReady()
	if err := h.update(nil, "10.0.0.1:1/3", "10.0.0.2:1/1"); err != nil {
		t.Fatal(err)
	}
	if c := count(picks(t, h.picker(), 40)); c["10.0.0.1:1"] != 30 {
		t.Errorf("after weight change to 3:1, counts = %v, want 30:10", c)
	}
	if n := len(h.cc.SubConns()); n != 2 {
		t.Errorf("%d SubConns after a weight change, want the 2 kept", n)
	}
}

// TestRebuildsKeepPhase rebuilds the picker every three picks (a fourth
// endpoint's weight toggles). A picker that restarted its period on every
// rebuild would give the heavy endpoint, first in the period, two of every
// three picks; continuing the phase keeps the 5:1:1 shares.
func TestRebuildsKeepPhase(t *testing.T) {
	h := newHarness(t)
	base := []string{"10.0.0.1:1/5", "10.0.0.2:1/1", "10.0.0.3:1/1"}
	if err := h.update(nil, append(base, "10.0.0.4:1/1")...); err != nil {
		t.Fatal(err)
	}
	h.cc.SetAllReady()
	total := map[string]int{}
	for i := range 300 {
		if err := h.update(nil, append(base, fmt.Sprintf("10.0.0.4:1/%d", 1+i%2))...); err != nil {
			t.Fatal(err)
		}
		for a, n := range count(picks(t, h.picker(), 3)) {
			total[a] += n
		}
	}
	heavy, light := float64(total["10.0.0.1:1"]), float64(total["10.0.0.2:1"]+total["10.0.0.3:1"])/2
	if r := heavy / light; r < 4 || r > 6 {
		t.Errorf("heavy/light share ratio %.2f over rebuilds (counts %v), want 5 ±1", r, total)
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		js      string
		want    string // slow-start window, or "error"
		wantErr string
	}{
		{js: `{}`, want: "0s"},
		{js: ``, want: "0s"},
		{js: `{"slowStartWindow":"30s"}`, want: "30s"},
		{js: `{"slowStartWindow":"1.5s"}`, want: "1.5s"},
		{js: `{"slowStartWindow":"0s"}`, want: "0s"},
		{js: `{"slowStartWindow":"1s"}`, want: "1s"},
		{js: `{"slowStartWindow":"1ns"}`, wantErr: "slowStartWindow 1ns is under 1s"},
		{js: `{"slowStartWindow":"999ms"}`, wantErr: "slowStartWindow 999ms is under 1s"},
		{js: `{"slowStartWindow":"-1s"}`, wantErr: "negative"},
		{js: `{"slowStartWindow":30}`, wantErr: "string"},
		{js: `{"slowstart":"30s"}`, wantErr: "unknown field"},
	}
	for _, tt := range tests {
		cfg, err := builder{}.ParseConfig([]byte(tt.js))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "wrr: ") {
				t.Errorf("ParseConfig(%s) error = %v, want a wrr error containing %q", tt.js, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseConfig(%s): %v", tt.js, err)
			continue
		}
		if got := cfg.(*Config).window().String(); got != tt.want {
			t.Errorf("ParseConfig(%s) window = %s, want %s", tt.js, got, tt.want)
		}
	}
}
