package p2c

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// testParams returns default params on the clock now.
func testParams(now func() int64) *atomic.Pointer[params] {
	cfg := defaultConfig()
	prm := &atomic.Pointer[params]{}
	prm.Store(&params{tau: float64(time.Duration(cfg.DecayTime)), penalty: float64(time.Duration(cfg.ErrorPenalty)), now: now})
	return prm
}

// testEndpoints returns n simulated backends with fresh stats.
func testEndpoints(prm *atomic.Pointer[params], n int) []endpoint {
	eps := make([]endpoint, n)
	for i := range eps {
		eps[i] = endpoint{picker: backendPicker{&simSubConn{id: i}}, stats: newStats(prm, 0, 0)}
	}
	return eps
}

// fixture is n simulated backends behind a picker on a virtual clock.
type fixture struct {
	now time.Duration
	prm *atomic.Pointer[params]
	p   *picker
}

func newFixture(n int) *fixture {
	f := &fixture{}
	f.prm = testParams(func() int64 { return int64(f.now) })
	f.p = &picker{eps: testEndpoints(f.prm, n), params: f.prm.Load(), rand: rand.New(rand.NewPCG(1, 1)).Uint64}
	return f
}

func (f *fixture) pick(t *testing.T) (int, func(balancer.DoneInfo)) {
	t.Helper()
	res, err := f.p.Pick(balancer.PickInfo{Ctx: context.Background()})
	if err != nil {
		t.Fatalf("Pick: %v", err)
	}
	return res.SubConn.(*simSubConn).id, res.Done
}

// TestStatsStepTable walks one endpoint's estimate through observations.
func TestStatsStepTable(t *testing.T) {
	s := newStats(testParams(nil), 0, 0)
	steps := []struct {
		at      time.Duration
		observe time.Duration // 0: only read
		want    time.Duration // estimate at `at`, after the observation
	}{
		{at: 0, want: 1}, // nothing measured: 1ns
		{at: time.Second, observe: 10 * time.Millisecond, want: 10 * time.Millisecond},        // peak
		{at: time.Second, observe: 100 * time.Millisecond, want: 100 * time.Millisecond},      // a slower answer replaces it
		{at: time.Second, observe: time.Millisecond, want: 100 * time.Millisecond},            // a faster one right away barely counts
		{at: 11 * time.Second, want: 36787944 * time.Nanosecond},                              // one decay time later: 1/e
		{at: 11 * time.Second, observe: 50 * time.Millisecond, want: 50 * time.Millisecond},   // above the decayed estimate: peak
		{at: 41 * time.Second, observe: 40 * time.Millisecond, want: 40 * time.Millisecond},   // after long silence the answer is the estimate
		{at: 41*time.Second + time.Millisecond, observe: 0, want: 39996000 * time.Nanosecond}, // decays continuously
		{at: 1041 * time.Second, want: 0},                                                     // idle for long: looks free again
	}
	for i, st := range steps {
		now := int64(st.at)
		if st.observe > 0 {
			s.observe(float64(st.observe), now)
		}
		got := s.estimate(now)
		if diff := cmp.Diff(float64(st.want), got, cmpopts.EquateApprox(0, float64(time.Microsecond))); diff != "" {
			t.Errorf("step %d (at %v, observe %v): estimate mismatch (-want +got):\n%s", i, st.at, st.observe, diff)
		}
	}
}

func TestPickTakesTheCheaperOfTwo(t *testing.T) {
	f := newFixture(2)
	f.p.eps[0].stats = newStats(f.prm, float64(50*time.Millisecond), 0)
	f.p.eps[1].stats = newStats(f.prm, float64(5*time.Millisecond), 0)
	// 5ms × (k+1) stays below 50ms for the first nine picks.
	for range 9 {
		if i, done := f.pick(t); i != 1 {
			t.Fatalf("picked endpoint %d, want the faster 1", i)
		} else {
			defer done(balancer.DoneInfo{})
		}
	}
	f.p.eps[1].stats.inflight.Add(10) // 5ms × 20 > 50ms × 1
	defer f.p.eps[1].stats.inflight.Add(-10)
	if i, _ := f.pick(t); i != 0 {
		t.Errorf("with 19 in flight on endpoint 1, picked %d, want 0", i)
	}
}

func TestWeightDividesCost(t *testing.T) {
	f := newFixture(2)
	f.p.eps[0].logInvWeight = -math.Log(4)
	counts := make([]int, 2)
	var dones []func(balancer.DoneInfo)
	for range 50 {
		i, done := f.pick(t)
		counts[i]++
		dones = append(dones, done)
	}
	for _, d := range dones {
		d(balancer.DoneInfo{})
	}
	if counts[0] < 35 || counts[0] > 45 {
		t.Errorf("weights 4:1 with equal latency, in-flight counts = %v, want about 40:10", counts)
	}
}

func TestInflightCountsUntilDone(t *testing.T) {
	f := newFixture(1)
	_, done := f.pick(t)
	if got := f.p.eps[0].stats.inflight.Load(); got != 1 {
		t.Fatalf("in flight after Pick = %d, want 1", got)
	}
	done(balancer.DoneInfo{})
	if got := f.p.eps[0].stats.inflight.Load(); got != 0 {
		t.Errorf("in flight after Done = %d, want 0", got)
	}
}

func TestSampleRules(t *testing.T) {
	p := testParams(nil).Load()
	rtt := float64(time.Millisecond)
	tests := []struct {
		name   string
		info   balancer.DoneInfo
		want   float64
		wantOK bool
	}{
		{"success", balancer.DoneInfo{BytesSent: true, BytesReceived: true}, rtt, true},
		{"no RPC sent", balancer.DoneInfo{}, 0, false},
		{"caller cancelled", balancer.DoneInfo{Err: status.Error(codes.Canceled, "x"), BytesSent: true}, 0, false},
		{"unavailable is penalised", balancer.DoneInfo{Err: status.Error(codes.Unavailable, "x")}, float64(DefaultErrorPenalty), true},
		{"resource exhausted is penalised", balancer.DoneInfo{Err: status.Error(codes.ResourceExhausted, "x"), BytesSent: true}, float64(DefaultErrorPenalty), true},
		{"other errors count as measured", balancer.DoneInfo{Err: status.Error(codes.NotFound, "x"), BytesSent: true}, rtt, true},
		{"non-status error", balancer.DoneInfo{Err: errors.New("x"), BytesSent: true}, rtt, true},
	}
	for _, tt := range tests {
		got, ok := p.sample(tt.info, rtt)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s: sample = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

// TestFastFailingBackendDoesNotAttractTraffic: backend 0 answers Unavailable
// in 0.1ms, the others succeed in 10ms. Without the penalty, 0 would look
// fastest and take most of the traffic.
func TestFastFailingBackendDoesNotAttractTraffic(t *testing.T) {
	f := newFixture(4)
	counts := make([]int, 4)
	for range 2000 {
		i, done := f.pick(t)
		counts[i]++
		if i == 0 {
			f.now += 100 * time.Microsecond
			done(balancer.DoneInfo{Err: status.Error(codes.Unavailable, "down")})
			continue
		}
		f.now += 10 * time.Millisecond
		done(balancer.DoneInfo{BytesSent: true, BytesReceived: true})
	}
	if counts[0] > 2000/20 {
		t.Errorf("fast-failing backend got %d of 2000 picks (%v), want under 5%%", counts[0], counts)
	}
}

func TestPickAndDoneDoNotAllocate(t *testing.T) {
	f := newFixture(10)
	info := balancer.PickInfo{Ctx: context.Background()}
	di := balancer.DoneInfo{BytesSent: true, BytesReceived: true}
	allocs := testing.AllocsPerRun(1000, func() {
		res, _ := f.p.Pick(info)
		res.Done(di)
	})
	if allocs != 0 {
		t.Errorf("Pick+Done allocates %v times, want 0", allocs)
	}
}
