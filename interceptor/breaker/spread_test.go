package breaker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
)

// backends returns n distinct loopback addresses.
func backends(n int) []net.Addr {
	as := make([]net.Addr, n)
	for i := range as {
		as[i] = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i)), Port: 50051}
	}
	return as
}

// callTo returns an invoker answering err as the backend at a.
func callTo(a net.Addr, err error) grpc.UnaryInvoker {
	return func(_ context.Context, _ string, _, _ any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
		for _, o := range opts {
			if p, ok := o.(grpc.PeerCallOption); ok {
				*p.PeerAddr = peer.Peer{Addr: a}
			}
		}
		return err
	}
}

// step is a run of calls in a spread scenario: calls calls spaced by every,
// each to backends[pick(i)], failing if bad[that backend].
type step struct {
	calls int
	every time.Duration
	pick  func(i int) int
}

func roundRobin(n int) func(int) int { return func(i int) int { return i % n } }
func only(b int) func(int) int       { return func(int) int { return b } }

// TestSpreadRule runs scripted traffic through breakers with the default
// trip condition, and variants, and checks at which call each opens, if
// any. One bad backend among several never opens the default breaker; all
// of them failing, or two of three, does, at the volume threshold; a lone
// failing backend does once its failures have lasted DefaultLoneFor.
func TestSpreadRule(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name  string
		opts  []Option
		n     int
		bad   []int
		steps []step
		want  int // the call after which the breaker is open; -1 never
	}{
		{"one bad of three", nil, 3, []int{0}, []step{{3000, ms, roundRobin(3)}}, -1},
		{"one bad of two", nil, 2, []int{0}, []step{{3000, ms, roundRobin(2)}}, -1},
		{"one bad of three takes every call at first", nil, 3, []int{0},
			[]step{{500, ms, only(0)}, {3000, ms, roundRobin(3)}}, -1},
		{"one bad of ten, most calls to it", nil, 10, []int{0},
			[]step{{3000, ms, func(i int) int { return max(0, i%20-10) }}}, -1},
		{"two bad of three", nil, 3, []int{0, 1}, []step{{3000, ms, roundRobin(3)}}, 20},
		{"all three bad", nil, 3, []int{0, 1, 2}, []step{{3000, ms, roundRobin(3)}}, 20},
		{"the only backend bad, fast calls", nil, 1, []int{0}, []step{{5000, ms, only(0)}}, 3001},
		{"the only backend bad, slow calls", nil, 1, []int{0}, []step{{100, 200 * ms, only(0)}}, 20},
		{"the only backend bad, rolling window", []Option{WithRollingWindow(10*time.Second, time.Second)}, 1, []int{0},
			[]step{{5000, ms, only(0)}}, 3001},
		{"lone time at most half a short window", []Option{WithInterval(time.Second)}, 1, []int{0},
			[]step{{5000, ms, only(0)}}, 501},
		{"spread off", []Option{WithSpread(0, 0)}, 3, []int{0}, []step{{3000, ms, only(0)}}, 20},
		{"ratio alone replaces the spread rule", []Option{WithFailureRatio(0.5, 20)}, 3, []int{0},
			[]step{{3000, ms, only(0)}}, 20},
		{"ratio with the spread rule", []Option{WithFailureRatio(0.5, 20), WithSpread(DefaultSpread, DefaultLoneFor)}, 3, []int{0},
			[]step{{3000, ms, roundRobin(3)}}, -1},
		{"consecutive failures alone", []Option{WithConsecutiveFailures(5)}, 3, []int{0},
			[]step{{3, ms, roundRobin(3)}, {100, ms, only(0)}}, 8},
		{"consecutive failures with the spread rule", []Option{WithSpread(0.5, 0), WithConsecutiveFailures(5)}, 3, []int{0},
			[]step{{3, ms, roundRobin(3)}, {100, ms, only(0)}}, -1},
		{"consecutive failures with the spread rule, all bad", []Option{WithConsecutiveFailures(5), WithSpread(0.5, 0)}, 3, []int{0, 1, 2},
			[]step{{3000, ms, roundRobin(3)}}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := mustGroup(t, tt.opts...)
				addrs := backends(tt.n)
				bad := make([]bool, tt.n)
				for _, b := range tt.bad {
					bad[b] = true
				}
				got, call := -1, 0
				for _, s := range tt.steps {
					for i := range s.calls {
						time.Sleep(s.every)
						b := s.pick(i)
						var err error
						if bad[b] {
							err = errUnavailable
						}
						call++
						_ = g.unary(context.Background(), method, nil, nil, nil, callTo(addrs[b], err))
						if got < 0 && g.State(method) == StateOpen {
							got = call
						}
					}
				}
				if got != tt.want {
					t.Errorf("open after call %d, want %d (-1: never)", got, tt.want)
				}
			})
		})
	}
}

// TestSpreadModel checks the default trip condition against a model that
// keeps every outcome of the current fixed window: under random traffic
// (random backends, some bad, some flaky, random gaps between calls) the
// breaker opens at exactly the call after which the model says that at
// least DefaultMinRequests calls finished in the window, at least
// DefaultFailureRatio of them failed, the backends that failed are more
// than DefaultSpread of those that answered, and, if one backend answered,
// its failures began at least DefaultLoneFor ago.
func TestSpreadModel(t *testing.T) {
	for seed := range uint64(300) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { spreadModel(t, seed) })
		})
	}
}

type modelOutcome struct {
	at     time.Time
	peer   int
	failed bool
}

func spreadModel(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 2))
	n := 1 + rng.IntN(maxPeers)
	addrs := backends(n)
	failP := make([]float64, n) // each backend's chance of failing a call
	for i := range failP {
		failP[i] = []float64{0, 0, 0.1, 1}[rng.IntN(4)]
	}
	maxGap := []time.Duration{time.Millisecond, 50 * time.Millisecond, 500 * time.Millisecond}[rng.IntN(3)]
	used := 1 + rng.IntN(n) // calls go to the first used backends

	g := mustGroup(t)
	var start time.Time // the window's, from the first call
	var win []modelOutcome
	for call := 1; call <= 2000; call++ {
		time.Sleep(time.Duration(rng.Int64N(int64(maxGap))))
		now := time.Now()
		if call == 1 || now.Sub(start) >= DefaultInterval { // the fixed window (re)starts
			start, win = now, nil
		}
		b := rng.IntN(used)
		failed := rng.Float64() < failP[b]
		var err error
		if failed {
			err = errUnavailable
		}
		_ = g.unary(context.Background(), method, nil, nil, nil, callTo(addrs[b], err))
		win = append(win, modelOutcome{now, b, failed})
		want := failed && modelTrips(win, now)
		if got := g.State(method) == StateOpen; got != want {
			t.Fatalf("call %d (backend %d of %d, failed %v): open = %v, the model says %v; window %+v",
				call, b, n, failed, got, want, win)
		}
		if want {
			return
		}
	}
}

func modelTrips(win []modelOutcome, now time.Time) bool {
	answered, failing := map[int]bool{}, map[int]bool{}
	failures := 0
	var since time.Time
	for _, o := range win {
		answered[o.peer] = true
		if o.failed {
			if failures == 0 {
				since = o.at
			}
			failures++
			failing[o.peer] = true
		}
	}
	switch {
	case len(win) < DefaultMinRequests, float64(failures) < DefaultFailureRatio*float64(len(win)):
		return false
	case float64(len(failing)) <= DefaultSpread*float64(len(answered)):
		return false
	}
	return len(answered) > 1 || now.Sub(since) >= DefaultLoneFor
}
