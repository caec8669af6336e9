package zoneaware

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/balancer/outlier"
	"github.com/grpckit/grpckit/internal/testutil"
)

// testOutlier is the outlier policy on testClock.
const testOutlier = "grpckit_outlier_ejection_zoneaware_test"

var testClock = &manualClock{now: time.Unix(1e9, 0)}

func init() {
	balancer.Register(outlier.NewBuilder(outlier.WithName(testOutlier), outlier.WithClock(testClock)))
}

// manualClock moves only when Advance is called; timers due run then.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
}

type manualTimer struct {
	at      time.Time
	f       func()
	stopped bool
	c       *manualClock
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) outlier.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{at: c.now.Add(d), f: f, c: c}
	c.timers = append(c.timers, t)
	return t
}

func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

func (c *manualClock) Advance(d time.Duration) {
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

// TestOutlierChildEjectionsCount: with grpckit_outlier_ejection as the
// child, an endpoint it ejects no longer counts as READY, so its zone's
// share falls as if the endpoint were down, instead of the zone's other
// endpoints taking the whole share; and it counts again once let back.
func TestOutlierChildEjectionsCount(t *testing.T) {
	h := newHarness(t, `{"localZone":"a","childPolicy":[{"`+testOutlier+`":{
		"consecutiveFailures":2,"failureRateThreshold":0,"baseEjectionTime":"1h","maxEjectionTime":"1h","maxEjectionPercent":50,
		"childPolicy":[{"round_robin":{}}]}}]}`)
	h.update(inst("a", 0, 1), inst("a", 1, 1), inst("b", 0, 1), inst("b", 1, 1))
	h.waitPicks(100, "a")

	bad := inst("a", 0, 1).Addr
	for failed := 0; failed < 2; {
		res, err := h.cc.LastState().Picker.Pick(balancer.PickInfo{Ctx: context.Background()})
		if err != nil {
			t.Fatal(err)
		}
		if res.SubConn.(*testutil.SubConn).Addr() == bad {
			res.Done(balancer.DoneInfo{Err: status.Error(codes.Unavailable, "down")})
			failed++
		}
	}
	// The ejection runs on the outlier child's own goroutine; zoneaware
	// hears of it before the child's picker leaves a0 out.
	for deadline := time.Now().Add(testutil.DefaultTimeout); h.picksAddr(100)[bad] > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("a0 never ejected: picks %v, loads %+v", h.picksAddr(100), h.loads())
		}
	}
	want := []zoneLoad{{zone: "a", total: 2, ready: 1}, {zone: "b", total: 2, ready: 2}}
	if diff := cmp.Diff(want, h.loads(), cmp.AllowUnexported(zoneLoad{})); diff != "" {
		t.Fatalf("with a0 ejected, zones (-want +got):\n%s", diff)
	}
	// a: READY share 1/3 against a traffic share 1/2 keeps 2/3 of the picks.
	if got := h.picks(600); got["b"] < 100 || got["a"] < 300 {
		t.Fatalf("with a0 ejected, 600 picks went %v; want about 400 to a and 200 to b", got)
	}

	testClock.Advance(time.Hour) // a0 is let back, on probation
	for deadline := time.Now().Add(testutil.DefaultTimeout); h.picksAddr(100)[bad] == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("a0 never let back: picks %v, loads %+v", h.picksAddr(100), h.loads())
		}
	}
	want = []zoneLoad{{zone: "a", total: 2, ready: 2}, {zone: "b", total: 2, ready: 2}}
	if diff := cmp.Diff(want, h.loads(), cmp.AllowUnexported(zoneLoad{})); diff != "" {
		t.Fatalf("with a0 back, zones (-want +got):\n%s", diff)
	}
	if got := h.picks(200); got["a"] != 200 {
		t.Fatalf("with a0 back, 200 picks went %v; want all to a", got)
	}
}

// picksAddr counts n picks of the newest picker by address. It reports no
// result to the picks' Done.
func (h *harness) picksAddr(n int) map[string]int {
	out := map[string]int{}
	p := h.cc.LastState().Picker
	for range n {
		res, err := p.Pick(balancer.PickInfo{Ctx: context.Background()})
		if err != nil {
			out["error"]++
			continue
		}
		out[res.SubConn.(*testutil.SubConn).Addr()]++ // no Done: a success would break a0's run of failures
	}
	return out
}
