package breaker

import (
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fakeThrottle returns a Throttle on a clock the test moves and a seeded
// random source.
func fakeThrottle(t *testing.T, cfg Throttling, seed uint64) (*Throttle, *atomic.Int64) {
	t.Helper()
	th, err := NewThrottle(cfg)
	if err != nil {
		t.Fatalf("NewThrottle: %v", err)
	}
	var now atomic.Int64
	th.clock = func() time.Duration { return time.Duration(now.Load()) }
	th.random = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)).Float64
	return th, &now
}

func TestThrottleConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  Throttling
		want string // "" for valid
	}{
		{Throttling{}, ""},
		{Throttling{K: 1, Window: time.Minute, Buckets: 64}, ""},
		{Throttling{K: 0.5}, "K 0.5"},
		{Throttling{K: math.NaN()}, "K NaN"},
		{Throttling{K: math.Inf(1)}, "K +Inf"},
		{Throttling{Buckets: 65}, "buckets 65"},
		{Throttling{Buckets: -1}, "buckets -1"},
		{Throttling{Window: -time.Second}, "window -1s"},
		{Throttling{Window: 5, Buckets: 10}, "window 5ns"},
		{Throttling{MinRequests: -1}, "min requests -1"},
	} {
		_, err := NewThrottle(tc.cfg)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("NewThrottle(%+v): %v", tc.cfg, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "breaker: ")):
			t.Errorf("NewThrottle(%+v) = %v, want an error naming %q", tc.cfg, err, tc.want)
		}
	}
	if _, err := NewThrottle(Throttling{}, WithMaxKeys(0)); err == nil {
		t.Errorf("NewThrottle with WithMaxKeys(0): no error")
	}
}

// TestThrottleWindow steps through the sliding window: outcomes count in
// the bucket current when they end, the probability follows the formula,
// and buckets leave the window one at a time.
func TestThrottleWindow(t *testing.T) {
	tr, now := fakeThrottle(t, Throttling{K: 2, Window: 10 * time.Second, Buckets: 10, MinRequests: 1}, 1)
	th := tr.get("k")
	type want struct{ req, acc uint64 }
	check := func(step string, w want) {
		t.Helper()
		p, req, acc := tr.Probability("k")
		wp := max(0, (float64(w.req)-2*float64(w.acc))/float64(w.req+1))
		if req != w.req || acc != w.acc || math.Abs(p-wp) > 1e-12 {
			t.Errorf("%s: Probability = %v, %d requests, %d accepts; want %v, %d, %d", step, p, req, acc, wp, w.req, w.acc)
		}
	}
	for range 10 {
		tr.done(th, errFailure)
	}
	check("10 failures", want{10, 0})
	now.Store(int64(3 * time.Second))
	for range 4 {
		tr.done(th, nil)
	}
	tr.done(th, errExcluded)
	check("then 4 accepted, one excluded", want{14, 4})
	now.Store(int64(9*time.Second + 999*time.Millisecond))
	check("just before the first bucket expires", want{14, 4})
	now.Store(int64(10 * time.Second))
	check("first bucket expired", want{4, 4})
	now.Store(int64(13 * time.Second))
	check("all expired", want{0, 0})
	tr.done(th, errFailure)
	check("bucket reused", want{1, 0})
	now.Store(int64(time.Hour))
	check("an hour later", want{0, 0})
}

// TestThrottleRefusalRate is a statistical test of the decision: with R
// requests of which a·R were accepted in the window, a call is refused with
// probability max(0, (1 − K·a)·R/(R + 1)). Each trial decides one call on a
// fresh window; the refusal count must fall within 5 standard deviations of
// the binomial mean (a false alarm about once in 3.5 million runs for a
// given seed; the seed is fixed, so the test is deterministic).
func TestThrottleRefusalRate(t *testing.T) {
	const trials = 20000
	for _, tc := range []struct {
		k        float64
		req, acc uint64
	}{
		{2, 100, 0}, {2, 100, 10}, {2, 100, 25}, {2, 100, 40}, {2, 100, 50}, {2, 100, 90},
		{1.5, 200, 60}, {1, 20, 5}, {2, 3, 0}, {2, 0, 0},
	} {
		tr, _ := fakeThrottle(t, Throttling{K: tc.k, MinRequests: 1}, tc.req*7919+tc.acc)
		refused := 0
		for i := range trials {
			th := tr.get(string(rune('a' + i%26)))
			// A fresh window holding the counts, in the current bucket.
			clear(th.buckets)
			e := tr.epoch()
			th.requests(e).w.Store(uint64(e)<<32 | tc.req)
			th.accepts(e).w.Store(uint64(e)<<32 | tc.acc)
			if err := tr.admit(th, "/m"); err != nil {
				refused++
			}
		}
		r := float64(tc.req)
		p := max(0, (1-tc.k*float64(tc.acc)/max(r, 1))*r/(r+1))
		mean, sd := trials*p, math.Sqrt(trials*p*(1-p))
		if math.Abs(float64(refused)-mean) > 5*sd+1e-9 {
			t.Errorf("K=%v, %d requests, %d accepted: %d of %d refused, want %.1f ± %.1f (p=%.4f)", tc.k, tc.req, tc.acc, refused, trials, mean, 5*sd, p)
		}
	}
}

// TestThrottleSteadyState drives a throttled client at a fixed rate against
// a backend that accepts each call it receives with probability a, on a
// fake clock. Each call is refused with p = (R − K·A)/(R + 1), A being the
// accepts in the window. The sliding window holds on average
// Re = (1 − 1/(2·Buckets))·R of the R calls made per window, and as large a
// share of the calls sent, so the calls sent per window settle at
// S = R·(1 + K·a·S·Re/R)/(Re + 1), that is S = R/(Re·(1 − K·a) + 1) when
// K·a < 1: a backend that accepts too little keeps getting about
// 1/(1 − K·a) calls per window. When K·a is well above 1 every call is sent.
// Sends come in clusters (an accept raises the odds of the next sends), so
// the mean over 600 windows is checked to within 25 %.
func TestThrottleSteadyState(t *testing.T) {
	const (
		window  = 10 * time.Second
		step    = 50 * time.Millisecond // 20 calls a second
		windows = 600
		warmup  = 5 // windows of failures first, whatever a
	)
	r := float64(window / step)
	re := r * (1 - 1.0/(2*DefaultThrottleBuckets))
	for _, tc := range []struct{ k, a float64 }{
		{2, 0}, {2, 0.1}, {2, 0.3}, {1.5, 0.3}, {2, 0.75}, {2, 1},
	} {
		tr, now := fakeThrottle(t, Throttling{K: tc.k, Window: window}, uint64(tc.a*1000+tc.k))
		backend := rand.New(rand.NewPCG(42, uint64(tc.k*10)))
		th := tr.get("k")
		sent := 0
		for i := range int64(windows+warmup) * int64(window/step) {
			now.Store(i * int64(step))
			if tr.admit(th, "/m") != nil {
				continue
			}
			if i >= warmup*int64(window/step) {
				sent++
				if backend.Float64() < tc.a {
					tr.done(th, nil)
					continue
				}
			}
			tr.done(th, errFailure)
		}
		measured := float64(sent) / windows
		want := r
		if tc.k*tc.a < 1 {
			want = r / (re*(1-tc.k*tc.a) + 1)
		}
		if math.Abs(measured-want) > 0.25*want {
			t.Errorf("K=%v a=%v: %.2f calls sent per window, want %.2f ± 25%%", tc.k, tc.a, measured, want)
		}
	}
}

// TestThrottleConcurrentCounts: outcomes recorded from many goroutines at
// once are all counted, with the clock still and while it moves (then the
// window holds at most what was recorded).
func TestThrottleConcurrentCounts(t *testing.T) {
	tr, now := fakeThrottle(t, Throttling{Window: time.Second, Buckets: 4}, 3)
	th := tr.get("k")
	const goroutines, each = 8, 2000
	run := func(moving bool) {
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for i := range each {
					if moving && g == 0 && i%100 == 0 {
						now.Add(int64(50 * time.Millisecond))
					}
					if i%3 == 0 {
						tr.done(th, nil)
					} else {
						tr.done(th, errFailure)
					}
				}
			})
		}
		wg.Wait()
	}
	run(false)
	_, req, acc := tr.Probability("k")
	if wantAcc := uint64(goroutines * ((each + 2) / 3)); req != goroutines*each || acc != wantAcc {
		t.Errorf("still clock: %d requests, %d accepts; want %d, %d", req, acc, goroutines*each, wantAcc)
	}
	now.Add(int64(time.Hour))
	run(true)
	if _, req, acc := tr.Probability("k"); req > goroutines*each || acc > req {
		t.Errorf("moving clock: %d requests, %d accepts; want at most %d, and accepts <= requests", req, acc, goroutines*each)
	}
}

// TestThrottleRefusal: a refused call is Unavailable, names the method and
// why, and counts as a request.
func TestThrottleRefusal(t *testing.T) {
	tr, _ := fakeThrottle(t, Throttling{Window: 10 * time.Second}, 5)
	tr.random = func() float64 { return 0 }
	th := tr.get("/greeter.v1.Greeter/SayHello")
	for range 9 {
		tr.done(th, errFailure)
	}
	if err := tr.admit(th, "/m"); err != nil {
		t.Fatalf("refused with 9 requests in the window, fewer than MinRequests: %v", err)
	}
	tr.done(th, errFailure)
	err := tr.admit(th, "/greeter.v1.Greeter/SayHello")
	if status.Code(err) != codes.Unavailable || !strings.HasPrefix(status.Convert(err).Message(),
		"breaker: /greeter.v1.Greeter/SayHello: adaptive throttling: refused with probability 0.91 (10 requests, 0 accepted") {
		t.Fatalf("refusal = %v", err)
	}
	if _, req, _ := tr.Probability("/greeter.v1.Greeter/SayHello"); req != 11 {
		t.Errorf("requests after a refusal = %d, want 11", req)
	}
	tr.random = func() float64 { return 0.95 }
	if err := tr.admit(th, "/m"); err != nil {
		t.Errorf("draw 0.95 >= p = 11/12: refused: %v", err)
	}
}

// TestThrottleForgetsEmptyKeys: past MaxKeys, keys whose window is empty
// are forgotten; keys with counts are kept.
func TestThrottleForgetsEmptyKeys(t *testing.T) {
	tr, err := NewThrottle(Throttling{}, WithMaxKeys(2))
	if err != nil {
		t.Fatal(err)
	}
	var now atomic.Int64
	tr.clock = func() time.Duration { return time.Duration(now.Load()) }
	tr.done(tr.get("busy"), errFailure)
	tr.get("idle")
	tr.get("new")
	if _, ok := tr.keys.Load("idle"); ok {
		t.Errorf("an empty key was kept past MaxKeys")
	}
	if _, req, _ := tr.Probability("busy"); req != 1 {
		t.Errorf("busy key lost its count: %d requests", req)
	}
	if tr.count != 2 {
		t.Errorf("count = %d, want 2", tr.count)
	}
	if th := tr.get("idle"); th.forgotten.Load() {
		t.Errorf("get returned a forgotten throttler")
	}
}

// TestThrottleKeysStress: calls under many keys from many goroutines, with
// a MaxKeys that keeps forgetting, stay race-free, and the Group's count
// matches the keys it holds.
func TestThrottleKeysStress(t *testing.T) {
	tr, now := fakeThrottle(t, Throttling{Window: time.Second, MinRequests: 1}, 9)
	tr.opts.maxKeys = 4
	tr.random = rand.Float64 // the seeded source is not safe for concurrent use
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 3000 {
				if g == 0 && i%50 == 0 {
					now.Add(int64(300 * time.Millisecond))
				}
				th := tr.get(keys[(g*7+i)%len(keys)])
				if tr.admit(th, "/m") == nil {
					tr.done(th, []error{nil, errFailure, errExcluded}[i%3])
				}
			}
		})
	}
	wg.Wait()
	n := 0
	tr.keys.Range(func(_, v any) bool {
		if v.(*throttler).forgotten.Load() {
			t.Errorf("a forgotten throttler is still held")
		}
		n++
		return true
	})
	if tr.count != n {
		t.Errorf("count = %d, but %d keys held", tr.count, n)
	}
}
