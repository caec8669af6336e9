package shedding

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const ms = time.Millisecond

// calm is a window of 100 calls of 2 ms with no queue.
func calmWindow(shed int64) window {
	return window{length: windowLength, done: 100, timed: 100, sum: 100 * 2 * ms, shed: shed}
}

func TestEstimatorSteps(t *testing.T) {
	over := window{length: windowLength, done: 100, timed: 100, sum: 100 * 2 * ms, shed: 0, queue: 50 * ms}
	for _, tc := range []struct {
		name    string
		windows []window
		want    estimate
	}{
		{"calm windows never limit", []window{calmWindow(0), calmWindow(0), calmWindow(0)},
			estimate{latency: 2 * ms, target: 2 * ms}},
		{"a queue under the target is no overload", []window{{length: windowLength, done: 100, timed: 100, sum: 100 * 2 * ms, queue: 2 * ms}},
			estimate{latency: 2 * ms, queue: 2 * ms, target: 2 * ms}},
		// 1000 calls/s, queue 48 ms over the target: 1 - 48/500 = 0.904.
		{"one overloaded window does not start the shedding", []window{over},
			estimate{latency: 2 * ms, queue: 50 * ms, target: 2 * ms, overloaded: true}},
		{"overload sets the rate to the throughput less the drain", []window{over, over},
			estimate{rate: 904, latency: 2 * ms, queue: 50 * ms, target: 2 * ms, overloaded: true}},
		{"a queue far over the target halves it at most", []window{over, {length: windowLength, done: 100, timed: 100, sum: 100 * 2 * ms, queue: time.Second}},
			estimate{rate: 500, latency: 2 * ms, queue: time.Second, target: 2 * ms, overloaded: true}},
		{"a window with no queue while shedding raises the rate by 20 %", []window{over, over, calmWindow(10)},
			estimate{rate: 904 * 1.2, latency: 2 * ms, target: 2 * ms}},
		{"a window with a queue at half the target raises it by 10 %", []window{over, over, {length: windowLength, done: 100, timed: 100, sum: 100 * 2 * ms, shed: 10, queue: ms}},
			estimate{rate: 904 * 1.1, latency: 2 * ms, queue: ms, target: 2 * ms}},
		{"the target is at least minTarget", []window{{length: windowLength, done: 100, timed: 100, sum: 100 * 10 * time.Microsecond, queue: 900 * time.Microsecond}},
			estimate{latency: 10 * time.Microsecond, queue: 900 * time.Microsecond, target: minTarget}},
		{"an empty window changes nothing", []window{over, over, {}},
			estimate{rate: 904, latency: 2 * ms, queue: 50 * ms, target: 2 * ms, overloaded: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e estimator
			var got estimate
			for _, w := range tc.windows {
				got = e.next(w)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(estimate{}), cmpopts.EquateApprox(1e-9, 1e-6)); diff != "" {
				t.Errorf("estimate (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEstimatorStandsDown: calmWindows windows in a row with neither overload
// nor a shed call end the limiting, and a shed call restarts the count.
func TestEstimatorStandsDown(t *testing.T) {
	var e estimator
	for range startWindows {
		e.next(window{length: windowLength, done: 100, timed: 100, sum: 100 * 2 * ms, queue: 50 * ms})
	}
	for i := range calmWindows - 1 {
		if got := e.next(calmWindow(0)); got.rate == 0 {
			t.Fatalf("stood down after %d calm windows, want %d", i+1, calmWindows)
		}
	}
	e.next(calmWindow(1)) // a shed call: the count starts again
	for i := range calmWindows - 1 {
		if got := e.next(calmWindow(0)); got.rate == 0 {
			t.Fatalf("stood down %d calm windows after a shed call, want %d", i+1, calmWindows)
		}
	}
	if got := e.next(calmWindow(0)); got.rate != 0 {
		t.Fatalf("rate %v after %d calm windows, want 0 (admit all)", got.rate, calmWindows)
	}
}

// TestEstimatorDecreaseBounds: under overload the rate never rises, never
// falls below half the rate in force in one window, and never below minRate,
// whatever the window says.
func TestEstimatorDecreaseBounds(t *testing.T) {
	for _, done := range []int64{0, 1, 10, 1000, 100000} {
		for _, q := range []time.Duration{3 * ms, 20 * ms, time.Second, time.Hour} {
			e := estimator{est: estimate{rate: 800, latency: 2 * ms}, throughput: 800}
			got := e.next(window{length: windowLength, done: done, timed: done, sum: time.Duration(done) * 2 * ms, queue: q})
			if !got.overloaded || got.rate > 800 || got.rate < 400 || got.rate < minRate {
				t.Errorf("done %d, queue %v: rate %v overloaded %v; want overloaded and 400 <= rate <= 800", done, q, got.rate, got.overloaded)
			}
		}
	}
}

// fluid is a CPU-bound server as a fluid: calls admitted join a queue served
// at capacity calls per second, each taking cost of CPU; the scheduling
// delay is how long the queue takes to drain.
type fluid struct {
	capacity float64
	cost     time.Duration
	queue    float64 // calls waiting or running
}

// window runs the server for one window with offered calls per second
// under the estimate e, returning what the limiter would observe and how
// many calls were served.
func (f *fluid) window(offered float64, e estimate) (window, float64) {
	sec := windowLength.Seconds()
	arrived := offered * sec
	admitted := arrived
	if e.rate > 0 {
		admitted = math.Min(arrived, e.rate*sec+e.target.Seconds()*e.rate)
	}
	f.queue += admitted
	served := math.Min(f.queue, f.capacity*sec)
	f.queue -= served
	delay := time.Duration(f.queue / f.capacity * float64(time.Second))
	n := int64(served)
	return window{length: windowLength, done: n, timed: n, sum: time.Duration(n) * f.cost, shed: int64(arrived - admitted), queue: delay}, served
}

// TestEstimatorModel drives the estimator with the fluid server at several
// loads and checks the goals the overload benchmark measures for real: at
// half the capacity nothing is shed; at 2× and 4× the server serves at least
// 90 % of its capacity and the queue stays short; when the capacity halves
// the rate follows within 5 s.
func TestEstimatorModel(t *testing.T) {
	const capacity = 1000.0
	for _, load := range []float64{0.5, 1, 2, 4} {
		f := &fluid{capacity: capacity, cost: 2 * ms}
		var e estimator
		var est estimate
		var served, shed float64
		var worst time.Duration
		for i := range 200 { // 20 s
			w, s := f.window(load*capacity, est)
			est = e.next(w)
			if i >= 50 { // after 5 s
				served += s
				shed += float64(w.shed)
				worst = max(worst, w.queue)
			}
		}
		share := served / (capacity * 15)
		t.Logf("load %.1fx: served %.1f%% of capacity, shed %.0f, worst queue %v", load, 100*share, shed, worst)
		switch {
		case load < 1 && shed > 0:
			t.Errorf("load %.1fx: %.0f calls shed, want none", load, shed)
		case load >= 2 && share < 0.9:
			t.Errorf("load %.1fx: served %.1f%% of capacity, want >= 90%%", load, 100*share)
		case load >= 2 && worst > 100*ms:
			t.Errorf("load %.1fx: queue reached %v, want <= 100ms", load, worst)
		}
	}
}

// TestEstimatorModelHalving halves the fluid server's capacity at 4× load and
// checks that within 5 s the rate stays within ±25 % of the new capacity.
func TestEstimatorModelHalving(t *testing.T) {
	f := &fluid{capacity: 1000, cost: 2 * ms}
	var e estimator
	var est estimate
	for range 100 {
		w, _ := f.window(2000, est)
		est = e.next(w)
	}
	f.capacity, f.cost = 500, 4*ms
	lastOut := -1
	for i := range 200 {
		w, _ := f.window(2000, est)
		est = e.next(w)
		if math.Abs(est.rate-500) > 0.25*500 {
			lastOut = i
		}
	}
	if after := time.Duration(lastOut+1) * windowLength; after > 5*time.Second {
		t.Errorf("rate last outside ±25%% of the new capacity %v after the halving, want within 5s", after)
	} else {
		t.Logf("converged %v after the halving; rate now %.0f", after, est.rate)
	}
}

// TestEstimatorBusyGate: a queue the server's own calls do not cause (they
// keep less than minBusy of the CPUs busy) sheds nothing.
func TestEstimatorBusyGate(t *testing.T) {
	e := estimator{procs: 8}
	// 100 calls/s of 2 ms keep 0.2 CPUs busy, under 0.25 × 8.
	w := window{length: windowLength, done: 10, timed: 10, sum: 10 * 2 * ms, queue: time.Second}
	for range 10 {
		if got := e.next(w); got.rate != 0 || got.overloaded {
			t.Fatalf("%+v with the calls keeping 0.2 of 8 CPUs busy, want no shedding", got)
		}
	}
	// 1000 calls/s of 2 ms keep 2 CPUs busy: the same queue is theirs.
	w.done, w.timed, w.sum = 100, 100, 100*2*ms
	for range startWindows {
		e.next(w)
	}
	if got := e.next(w); got.rate == 0 {
		t.Fatalf("%+v with the calls keeping 2 of 8 CPUs busy, want shedding", got)
	}
}

// TestEstimatorModelPauses adds pauses of the machine to the fluid server:
// one window in five reads a scheduling delay of 50 ms that no queue of
// calls causes. At half the capacity that sheds nothing; at 2× the server
// still serves at least 90 % of its capacity.
func TestEstimatorModelPauses(t *testing.T) {
	for _, load := range []float64{0.5, 2} {
		f := &fluid{capacity: 1000, cost: 2 * ms}
		var e estimator
		var est estimate
		var served, shed float64
		for i := range 200 {
			w, s := f.window(load*1000, est)
			if i%5 == 0 {
				w.queue = max(w.queue, 50*ms)
			}
			est = e.next(w)
			if i >= 50 {
				served += s
				shed += float64(w.shed)
			}
		}
		share := served / (1000 * 15)
		t.Logf("load %.1fx with pauses: served %.1f%%, shed %.0f", load, 100*share, shed)
		if load < 1 && shed > 0 {
			t.Errorf("load %.1fx: %.0f calls shed, want none", load, shed)
		}
		if load >= 2 && share < 0.9 {
			t.Errorf("load %.1fx: served %.1f%% of capacity, want >= 90%%", load, 100*share)
		}
	}
}

// TestEstimatorModelStall stops the fluid server at 2× load for half a
// second (the machine stalls: nothing completes, the queue grows), which
// cuts the rate hard; from 3 s after it ends the server serves at least 90 %
// of its capacity again.
func TestEstimatorModelStall(t *testing.T) {
	f := &fluid{capacity: 1000, cost: 2 * ms}
	var e estimator
	var est estimate
	var served float64
	for i := range 200 {
		f.capacity = 1000
		if i >= 50 && i < 55 {
			f.capacity = 1 // the machine stalls
		}
		w, s := f.window(2000, est)
		est = e.next(w)
		if i >= 55+30 && i < 55+60 {
			served += s
		}
	}
	if share := served / (1000 * 3); share < 0.9 {
		t.Errorf("served %.1f%% of capacity 3 to 6 s after a stall, want >= 90%%", 100*share)
	}
}

// TestEstimatorLongCalls: calls that do 20 ms of CPU work each, longer than
// the scheduler's 10 ms slice, are preempted and share the CPUs, so their
// latency grows with the queue (here to 400 ms) and stays above the
// scheduling delay (100 ms). A target that follows the latency never sees
// the overload; one capped at costFactor times the calls' CPU time (the
// process's CPU time over the calls ended: 2 CPUs × 100 ms over 10 calls,
// 20 ms) does.
func TestEstimatorLongCalls(t *testing.T) {
	e := estimator{procs: 2}
	w := window{length: windowLength, done: 10, timed: 10, sum: 10 * 400 * ms, queue: 100 * ms, cpu: 2 * windowLength}
	var got estimate
	for range startWindows + 1 {
		got = e.next(w)
	}
	if !got.overloaded || got.rate == 0 {
		t.Fatalf("%+v: calls of 20 ms CPU with a 400 ms latency and a 100 ms scheduling delay, want overload and shedding", got)
	}
	if got.target != costFactor*20*ms {
		t.Fatalf("target %v, want %d times the calls' CPU cost of 20ms", got.target, costFactor)
	}
	// The same windows without the CPU time: the latency is the only cost
	// known, and the target follows it.
	e = estimator{procs: 2}
	w.cpu = -1
	for range startWindows + 1 {
		got = e.next(w)
	}
	if got.overloaded || got.target != 400*ms {
		t.Fatalf("%+v without the CPU time, want the latency as the target and no overload", got)
	}
}

// TestEstimatorIdleCPU: a scheduling delay the process's calls do not cause
// (the process uses a tenth of one of its 8 CPUs) sheds nothing, whatever
// the calls' latency says.
func TestEstimatorIdleCPU(t *testing.T) {
	e := estimator{procs: 8}
	w := window{length: windowLength, done: 100, timed: 100, sum: 100 * 50 * ms, queue: time.Second, cpu: windowLength / 10}
	for range 10 {
		if got := e.next(w); got.overloaded || got.rate != 0 {
			t.Fatalf("%+v with the process using 0.1 of 8 CPUs, want no shedding", got)
		}
	}
}
