package p2c

import (
	"math"
	"testing"
	"time"

	"google.golang.org/grpc/connectivity"

	"github.com/grpckit/grpckit/balancer/internal/shard"
)

// TestSlowStartRampsNewEndpoint checks on a virtual clock that a new
// endpoint's weight in the picker starts at a tenth, grows linearly over the
// window, and starts over after the endpoint leaves READY.
func TestSlowStartRampsNewEndpoint(t *testing.T) {
	const window = 10 * time.Second
	h := newHarness(t)
	cfg := defaultConfig()
	cfg.SlowStartWindow = shard.Duration(window)
	if err := h.update(cfg, "10.0.0.1:1", "10.0.0.2:1"); err != nil {
		t.Fatal(err)
	}
	h.cc.SubConnFor("10.0.0.1:1").UpdateState(connectivity.Ready)
	h.now.Store(int64(2 * window))
	h.cc.SubConnFor("10.0.0.2:1").UpdateState(connectivity.Ready)
	weightOf := func(addr string) float64 {
		h.b.Refresh()
		s := h.statsOf(addr)
		for _, e := range h.picker().eps {
			if e.stats == s {
				return math.Exp(-e.logInvWeight)
			}
		}
		return 0
	}
	start := h.now.Load()
	for _, st := range []struct {
		after time.Duration
		want  float64
	}{{0, 0.1}, {window / 4, 0.25}, {window / 2, 0.5}, {window, 1}, {2 * window, 1}} {
		h.now.Store(start + int64(st.after))
		if w := weightOf("10.0.0.2:1"); math.Abs(w-st.want) > 1e-9 {
			t.Errorf("%v into the window: weight %.3f, want %.3f", st.after, w, st.want)
		}
		if w := weightOf("10.0.0.1:1"); w != 1 {
			t.Errorf("settled endpoint's weight %.3f, want 1", w)
		}
	}
	h.cc.SubConnFor("10.0.0.2:1").UpdateState(connectivity.Idle)
	h.now.Add(int64(time.Second))
	h.cc.SubConnFor("10.0.0.2:1").UpdateState(connectivity.Ready)
	if w := weightOf("10.0.0.2:1"); math.Abs(w-0.1) > 1e-9 {
		t.Errorf("after a flap: weight %.3f, want the ramp to start over at 0.1", w)
	}
}
