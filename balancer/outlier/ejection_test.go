package outlier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	estats "google.golang.org/grpc/experimental/stats"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/internal/testutil"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// fakeClock is a Clock that moves only when Advance is called; due timers
// run inside Advance.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	for _, t := range c.timers {
		if !t.stopped && !t.at.After(c.now) {
			t.stopped = true
			due = append(due, t.f)
		}
	}
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}

// recorder counts the policy's metrics by name and labels.
type recorder struct {
	estats.UnimplementedMetricsRecorder
	mu     sync.Mutex
	counts map[string]int64
}

func (r *recorder) RecordInt64Count(h *estats.Int64CountHandle, n int64, labels ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts[fmt.Sprint(h.Descriptor().Name, labels)] += n
}

func (r *recorder) get(name string, labels ...string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[fmt.Sprint(name, labels)]
}

type recordingCC struct {
	*testutil.BalancerClientConn
	rec *recorder
}

func (c recordingCC) MetricsRecorder() estats.MetricsRecorder { return c.rec }

// harness is the policy over a fake ClientConn and a fake clock, with round
// robin as the child and every SubConn READY.
type harness struct {
	t     *testing.T
	b     *outlierBalancer
	cc    *testutil.BalancerClientConn
	clock *fakeClock
	rec   *recorder
	addrs []string
}

func newHarness(t *testing.T, cfgJSON string, n int) *harness {
	t.Helper()
	h := &harness{t: t, cc: testutil.NewBalancerClientConn(), clock: &fakeClock{now: time.Unix(1e9, 0)},
		rec: &recorder{counts: map[string]int64{}}}
	bb := NewBuilder(WithClock(h.clock), WithName("outlier_test"))
	cfg, err := bb.(balancer.ConfigParser).ParseConfig(json.RawMessage(cfgJSON))
	if err != nil {
		t.Fatal(err)
	}
	target, err := url.Parse("fake:///target")
	if err != nil {
		t.Fatal(err)
	}
	h.b = bb.Build(recordingCC{h.cc, h.rec}, balancer.BuildOptions{Target: resolver.Target{URL: *target}}).(*outlierBalancer)
	t.Cleanup(h.b.Close)
	insts := make([]kitresolver.Instance, n)
	for i := range insts {
		insts[i] = kitresolver.Instance{Addr: fmt.Sprintf("10.0.0.%d:443", i+1)}
		h.addrs = append(h.addrs, insts[i].Addr)
	}
	s := balancer.ClientConnState{ResolverState: resolver.State{Endpoints: kitresolver.Endpoints(insts)}, BalancerConfig: cfg}
	if err := h.b.UpdateClientConnState(s); err != nil {
		t.Fatal(err)
	}
	h.waitPicks(h.addrs...)
	return h
}

// waitPicks waits until the newest picker reaches exactly addrs, moving
// SubConns to READY meanwhile.
func (h *harness) waitPicks(addrs ...string) {
	h.t.Helper()
	want := fmt.Sprint(addrs)
	var got string
	for deadline := time.Now().Add(testutil.DefaultTimeout); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		h.cc.SetAllReady()
		if got = fmt.Sprint(h.picked(4 * len(h.addrs))); got == want {
			return
		}
	}
	h.t.Fatalf("picks reach %s, want %s", got, want)
}

// picked returns the sorted addresses n picks reached.
func (h *harness) picked(n int) []string {
	p := h.cc.LastState().Picker
	if p == nil {
		return nil
	}
	seen := map[string]bool{}
	for range n {
		res, err := p.Pick(balancer.PickInfo{Ctx: context.Background()})
		if err != nil {
			return nil
		}
		seen[res.SubConn.(*testutil.SubConn).Addr()] = true
	}
	var out []string
	for _, a := range h.addrs {
		if seen[a] {
			out = append(out, a)
		}
	}
	return out
}

// sync waits until everything queued on the serializer has run.
func (h *harness) sync() {
	done := make(chan struct{})
	h.b.serial.schedule(func() { close(done) })
	<-done
}

func (h *harness) ep(i int) *endpoint {
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	return h.b.endpoints[h.addrs[i]]
}

// fail records n failed RPCs on endpoint i and lets the policy react.
func (h *harness) fail(i, n int) {
	for range n {
		h.ep(i).record(status.Error(codes.Unavailable, "down"))
	}
	h.sync()
}

func (h *harness) succeed(i, n int) {
	for range n {
		h.ep(i).record(nil)
	}
}

// state returns endpoint i's ejection state.
func (h *harness) state(i int) (ejected bool, left time.Duration, ejections int, probation bool) {
	e := h.ep(i)
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	if e.ejected {
		left = e.until.Sub(h.clock.Now())
	}
	return e.ejected, left, e.ejections, e.probation.Load()
}

func (h *harness) wantState(i int, ejected bool, left time.Duration, ejections int, probation bool) {
	h.t.Helper()
	e, l, n, p := h.state(i)
	got := fmt.Sprintf("ejected=%v left=%v ejections=%d probation=%v", e, l, n, p)
	want := fmt.Sprintf("ejected=%v left=%v ejections=%d probation=%v", ejected, left, ejections, probation)
	if diff := cmp.Diff(want, got); diff != "" {
		h.t.Fatalf("endpoint %d (-want +got):\n%s", i, diff)
	}
}

func TestConsecutiveFailuresEjectReturnAndProbation(t *testing.T) {
	h := newHarness(t, `{"consecutiveFailures":3,"failureRateThreshold":0,"interval":"10s",
		"baseEjectionTime":"30s","maxEjectionTime":"45s","maxEjectionPercent":50}`, 4)
	a := h.addrs

	h.fail(0, 2)
	h.wantState(0, false, 0, 0, false)
	h.fail(0, 1)
	h.wantState(0, true, 30*time.Second, 1, false)
	h.waitPicks(a[1], a[2], a[3])
	if got := h.rec.get("grpckit.lb.outlier.ejections", "fake:///target", ReasonConsecutiveFailures); got != 1 {
		t.Fatalf("ejections metric = %d, want 1", got)
	}

	h.clock.Advance(29 * time.Second)
	h.sync()
	h.wantState(0, true, time.Second, 1, false)
	h.clock.Advance(time.Second)
	h.sync()
	h.wantState(0, false, 0, 1, true)
	h.waitPicks(a...)
	if got := h.rec.get("grpckit.lb.outlier.returns", "fake:///target"); got != 1 {
		t.Fatalf("returns metric = %d, want 1", got)
	}

	// On probation one failure ejects again, for twice as long, capped.
	h.fail(0, 1)
	h.wantState(0, true, 45*time.Second, 2, false)
	h.waitPicks(a[1], a[2], a[3])

	// Back, then an interval of successes ends probation, and the next
	// fades the history.
	h.clock.Advance(45 * time.Second)
	h.sync()
	h.wantState(0, false, 0, 2, true)
	h.succeed(0, 1)
	h.clock.Advance(10 * time.Second)
	h.sync()
	h.wantState(0, false, 0, 2, false)
	h.clock.Advance(10 * time.Second)
	h.sync()
	h.wantState(0, false, 0, 1, false)
}

func TestMaxEjectionPercentCapsEjections(t *testing.T) {
	h := newHarness(t, `{"consecutiveFailures":2,"failureRateThreshold":0,"baseEjectionTime":"30s","maxEjectionPercent":50}`, 4)
	h.fail(0, 2)
	h.fail(1, 2)
	h.fail(2, 2)
	h.wantState(0, true, 30*time.Second, 1, false)
	h.wantState(1, true, 30*time.Second, 1, false)
	h.wantState(2, false, 0, 0, false)
	h.waitPicks(h.addrs[2], h.addrs[3])
	if got := h.rec.get("grpckit.lb.outlier.ejections_refused", "fake:///target"); got != 1 {
		t.Fatalf("refused metric = %d, want 1", got)
	}
	// When a slot frees, the next sweep takes the endpoint still over the
	// limit.
	h.clock.Advance(30 * time.Second)
	h.sync()
	h.wantState(2, true, 30*time.Second, 1, false)
}

func TestFailureRateRule(t *testing.T) {
	h := newHarness(t, `{"consecutiveFailures":0,"failureRateThreshold":0.5,"failureRateMinRequests":4,
		"interval":"10s","baseEjectionTime":"30s","maxEjectionPercent":100}`, 4)
	h.fail(0, 3) // 3 of 4 failed: over 50%
	h.succeed(0, 1)
	h.fail(1, 2) // 2 of 4: not over
	h.succeed(1, 2)
	h.fail(2, 3) // under the minimum volume
	h.clock.Advance(10 * time.Second)
	h.sync()
	h.wantState(0, true, 30*time.Second, 1, false)
	h.wantState(1, false, 0, 0, false)
	h.wantState(2, false, 0, 0, false)
	if got := h.rec.get("grpckit.lb.outlier.ejections", "fake:///target", ReasonFailureRate); got != 1 {
		t.Fatalf("failure-rate ejections metric = %d, want 1", got)
	}
}

func TestWhatCounts(t *testing.T) {
	h := newHarness(t, `{"consecutiveFailures":3,"failureRateThreshold":0,"maxEjectionPercent":100}`, 1)
	e := h.ep(0)
	steps := []struct {
		name string
		err  error
		want int64 // consecutive failures after the step
	}{
		{"unavailable", status.Error(codes.Unavailable, ""), 1},
		{"cancelled by the caller", status.Error(codes.Canceled, "context canceled"), 1},
		{"not found is an answer", status.Error(codes.NotFound, ""), 0},
		{"deadline exceeded", status.Error(codes.DeadlineExceeded, ""), 1},
		{"an error without a status", errors.New("transport closed"), 2},
		{"success", nil, 0},
	}
	for _, s := range steps {
		e.record(s.err)
		if got := e.consecutiveFailures(); got != s.want {
			t.Fatalf("after %s: consecutive = %d, want %d", s.name, got, s.want)
		}
	}
	h.sync()
	h.wantState(0, false, 0, 0, false)
}

// TestWatching follows when an endpoint's successes are counted: from its
// first failure, until an interval ends without failures after a success.
func TestWatching(t *testing.T) {
	h := newHarness(t, `{"consecutiveFailures":3,"failureRateThreshold":0.5,"failureRateMinRequests":4,
		"interval":"10s","baseEjectionTime":"30s","maxEjectionPercent":100}`, 3)
	next := func() {
		h.clock.Advance(10 * time.Second)
		h.sync()
	}
	wantWatched := func(i int, want bool) {
		t.Helper()
		if got := h.ep(i).watched.Load(); got != want {
			t.Fatalf("endpoint %d: watched = %v, want %v", i, got, want)
		}
	}

	// A healthy endpoint is not watched: its successes cost no count.
	h.succeed(0, 5)
	wantWatched(0, false)
	if got := h.ep(0).successes.Load(); got != 0 {
		t.Fatalf("unwatched endpoint counted %d successes", got)
	}

	// Watched from the first failure, across an interval that had one, so
	// the next interval's rate includes the successes before its failures:
	// 3 of 6 is not over 50%.
	h.fail(0, 1)
	wantWatched(0, true)
	h.succeed(0, 1)
	next()
	wantWatched(0, true)
	h.succeed(0, 3)
	h.fail(0, 2)
	h.succeed(0, 1)
	h.fail(0, 1)
	next()
	h.wantState(0, false, 0, 0, false)
	wantWatched(0, true)

	// An interval without failures, after a success, ends the watch.
	h.succeed(0, 1)
	next()
	wantWatched(0, false)

	// A run of failures outlives quiet intervals: it is watched until a
	// success breaks the run, and the third failure ejects.
	h.fail(1, 2)
	next()
	next()
	wantWatched(1, true)
	h.fail(1, 1)
	h.wantState(1, true, 30*time.Second, 1, false)

	// Back on probation, an endpoint is watched: an interval it served
	// without failing ends probation only if it served.
	h.clock.Advance(30 * time.Second)
	h.sync()
	h.wantState(1, false, 0, 1, true)
	wantWatched(1, true)
	h.succeed(1, 1)
	next()
	h.wantState(1, false, 0, 1, false)
}
