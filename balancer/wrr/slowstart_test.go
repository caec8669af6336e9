package wrr

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/connectivity"

	"github.com/grpckit/grpckit/balancer/internal/shard"
	"github.com/grpckit/grpckit/balancer/internal/shardtest"
)

// TestSlowStartRampsNewEndpoint drives the balancer on a virtual clock: an
// endpoint that becomes READY starts at a tenth of its weight, grows linearly
// over the window, and starts over after leaving READY.
func TestSlowStartRampsNewEndpoint(t *testing.T) {
	const window = 10 * time.Second
	// The clock is read from gRPC's goroutines too (endpointsharding leaves
	// IDLE on one of its own), so it is atomic.
	var now atomic.Int64
	clock := now.Load
	cc := shardtest.NewClientConn(t)
	b := shard.New(cc, balancer.BuildOptions{}, "wrr", &policy{cfg: &Config{}}, clock, logger)
	t.Cleanup(b.Close)
	h := &harness{t: t, cc: cc, b: b}
	cfg := &Config{SlowStartWindow: shard.Duration(window)}
	if err := h.update(cfg, "10.0.0.1:1/1", "10.0.0.2:1/1"); err != nil {
		t.Fatal(err)
	}
	h.cc.SubConnFor("10.0.0.1:1").UpdateState(connectivity.Ready)
	now.Store(int64(2 * window)) // the first endpoint is past its ramp
	h.cc.SubConnFor("10.0.0.2:1").UpdateState(connectivity.Ready)

	share := func() float64 {
		b.Refresh()
		return float64(count(picks(t, h.picker(), 1000))["10.0.0.2:1"]) / 1000
	}
	steps := []struct {
		after time.Duration // since the second endpoint became READY
		want  float64       // its share: f/(1+f) with f the ramp fraction
	}{
		{0, 0.1 / 1.1},
		{window / 4, 0.25 / 1.25},
		{window / 2, 0.5 / 1.5},
		{window, 0.5},
		{2 * window, 0.5},
	}
	start := now.Load()
	var got []string
	for _, st := range steps {
		now.Store(start + int64(st.after))
		if s := share(); s < st.want-0.02 || s > st.want+0.02 {
			t.Errorf("%v into the window: share %.3f, want %.3f", st.after, s, st.want)
		}
		got = append(got, fmt.Sprintf("%.2f", share()))
	}
	t.Logf("shares along the ramp: %v", got)

	// A flap restarts the ramp.
	h.cc.SubConnFor("10.0.0.2:1").UpdateState(connectivity.Idle)
	now.Add(int64(time.Second))
	h.cc.SubConnFor("10.0.0.2:1").UpdateState(connectivity.Ready)
	if s := share(); s > 0.1/1.1+0.02 {
		t.Errorf("after a flap: share %.3f, want the ramp to start over at %.3f", s, 0.1/1.1)
	}
}
