package overload

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

func TestSummarize(t *testing.T) {
	ms := time.Millisecond
	calls := []call{
		{at: 0, latency: 1 * ms, code: codes.OK}, // before the window
		{at: 100 * ms, latency: 2 * ms, code: codes.OK},
		{at: 200 * ms, latency: 4 * ms, code: codes.OK},
		{at: 300 * ms, latency: 1 * ms, code: codes.ResourceExhausted},
		{at: 400 * ms, latency: 1000 * ms, code: codes.DeadlineExceeded},
		{at: 500 * ms, latency: 3 * ms, code: codes.Internal},
		{at: 1100 * ms, latency: 1 * ms, code: codes.OK}, // after it
	}
	got := summarize(calls, 100*ms, 1100*ms, 4)
	want := Step{Offered: 5, Sent: 5, OK: 2, Shed: 1, Late: 1, Other: 1, Goodput: 2, GoodputShare: 0.5, P50: 4, P99: 1000}
	if got != want {
		t.Fatalf("summarize = %+v, want %+v", got, want)
	}
}

func TestSettle(t *testing.T) {
	h := &Halving{SwitchAt: 2}
	var pts []Point
	for i := range 50 {
		r := 100.0
		if i >= 25 { // 0.5 s after the switch
			r = 50
		}
		if i >= 45 { // the machine frees up: out of the band
			r = 90
		}
		pts = append(pts, Point{T: float64(i) * 0.1, Rate: r})
	}
	// The trailing median of 10 points reaches 50 at the sixth point at 50,
	// 1.0 s after the switch; a single point off the band does not move it.
	pts[35].Rate = 200
	h.Settle(pts, 5*time.Second)
	if h.Target != 50 || h.ConvergedAfter < 0.99 || h.ConvergedAfter > 1.01 {
		t.Fatalf("target %v reached after %vs, want 50 after 1.0s", h.Target, h.ConvergedAfter)
	}
	// In band from 3.0 s to 4.9 s but for the last point, whose median of
	// 10 has 5 at 90: 19 of 20.
	if h.InBand != 19.0/20 {
		t.Errorf("in band %v of the time, want 19/20", h.InBand)
	}
}

// TestRunShort runs every protection briefly at a light and a heavy load,
// and a short halving run, and checks the accounting.
func TestRunShort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // several seconds of load, slower under -race
	defer cancel()
	cfg := Config{Cost: 200 * time.Microsecond, Measure: 200 * time.Millisecond, Loads: []float64{0.5, 2}, Warmup: 100 * time.Millisecond,
		Step: 400 * time.Millisecond, Deadline: 300 * time.Millisecond, Halving: 600 * time.Millisecond}
	f, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if f.Capacity.Rate <= 0 || len(f.Steps) != len(cfg.Loads)*len(Protections) {
		t.Fatalf("capacity %+v, %d steps; want a capacity and %d steps", f.Capacity, len(f.Steps), len(cfg.Loads)*len(Protections))
	}
	for _, s := range f.Steps {
		if s.Sent == 0 || s.OK+s.Shed+s.Late+s.Other != s.Sent || s.Other != 0 {
			t.Errorf("%+v: want calls, all accounted for, none failing otherwise", s)
		}
	}
	if f.Halving == nil || len(f.Halving.Points) == 0 || len(f.Halving.Bins) == 0 {
		t.Fatalf("halving run %+v: want points and bins", f.Halving)
	}
}
