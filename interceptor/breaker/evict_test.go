package breaker

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// call runs one call for key through g's breaker and records result.
func call(t *testing.T, g *Group, key string, result error) {
	t.Helper()
	e, tk, err := g.admit(key)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	e.done(tk, result, 0, time.Now())
}

// TestMaxKeysBound: however many keys come by, a Group holds at most
// MaxKeys breakers, and an open breaker is never the one forgotten.
func TestMaxKeysBound(t *testing.T) {
	const maxKeys = 100
	g := mustGroup(t, WithMaxKeys(maxKeys), WithConsecutiveFailures(1))
	call(t, g, "open", errFailure)
	for i := range 20 * maxKeys {
		call(t, g, fmt.Sprint("key", i), nil)
		if n := len(g.Keys()); n > maxKeys {
			t.Fatalf("after %d keys the Group holds %d breakers, want at most %d", i+2, n, maxKeys)
		}
	}
	if got := g.State("open"); got != StateOpen {
		t.Errorf("open breaker after %d new keys: %v, want open", 20*maxKeys, got)
	}
}

// TestIdleEviction: a key created after the idle timeout forgets the
// breakers idle that long that are closed with no call in flight, and only
// those.
func TestIdleEviction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := mustGroup(t, WithIdleTimeout(time.Minute), WithConsecutiveFailures(1), WithOpenTimeout(time.Hour))
		call(t, g, "idle", nil)
		call(t, g, "open", errFailure)
		e, inFlight, err := g.admit("in flight")
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Minute)
		call(t, g, "new", nil)
		got := g.Keys()
		slices.Sort(got)
		if diff := cmp.Diff([]string{"in flight", "new", "open"}, got); diff != "" {
			t.Errorf("keys after the idle timeout (-want +got):\n%s", diff)
		}
		e.done(inFlight, errFailure, 0, time.Now())
		if got := g.State("in flight"); got != StateOpen {
			t.Errorf("the long call's failure: state %v, want open", got)
		}
	})
}

// TestEvictionUnderLoad: calls on many keys from many goroutines with a
// small bound: every call is admitted (an entry evicted under a caller is
// looked up again) and the bound holds.
func TestEvictionUnderLoad(t *testing.T) {
	const maxKeys = 16
	g := mustGroup(t, WithMaxKeys(maxKeys))
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				key := fmt.Sprint("k", (w*7919+i)%64)
				e, tk, err := g.admit(key)
				if err != nil {
					t.Errorf("%s: %v", key, err)
					return
				}
				e.done(tk, nil, 0, time.Now())
			}
		})
	}
	wg.Wait()
	if n := len(g.Keys()); n > maxKeys {
		t.Errorf("%d breakers, want at most %d", n, maxKeys)
	}
}

// BenchmarkNewKeys creates a new key per call: the cost per key must not
// grow with the number of keys held.
func BenchmarkNewKeys(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			keys := make([]string, n)
			for i := range keys {
				keys[i] = fmt.Sprint("key", i)
			}
			b.ReportAllocs()
			for b.Loop() {
				g := mustGroup(b, WithMaxKeys(2*n))
				for _, k := range keys {
					g.get(k)
				}
			}
		})
	}
}

// TestLateOutcomes: an outcome counts only in the state its call was
// admitted in, however many windows ago; a probe decided at its first
// response counts its end in the closed state that followed, and its
// failure while the half-open state lasts reopens the breaker.
func TestLateOutcomes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := mustGroup(t, WithConsecutiveFailures(1), WithMaxRequests(2), WithOpenTimeout(time.Second))
		e := g.get(method)
		long, _ := e.admit(time.Now())
		time.Sleep(5 * DefaultInterval)
		e.done(long, errFailure, 0, time.Now())
		if got := g.State(method); got != StateOpen {
			t.Fatalf("a failure five windows after its call began: state %v, want open", got)
		}
		time.Sleep(2 * time.Second)
		p1, err := e.admit(time.Now())
		if err != nil || p1.kind != kindProbe {
			t.Fatalf("first probe: %+v %v", p1, err)
		}
		p1 = e.decide(p1, time.Now())
		if got := g.State(method); got != StateHalfOpen {
			t.Fatalf("one of two probes decided: state %v, want half-open", got)
		}
		e.done(p1, errFailure, 0, time.Now()) // fails mid-stream, still half-open
		if got := g.State(method); got != StateOpen {
			t.Fatalf("decided probe failing while half-open: state %v, want open", got)
		}
		time.Sleep(2 * time.Second)
		a, _ := e.admit(time.Now())
		b, _ := e.admit(time.Now())
		a = e.decide(a, time.Now())
		b = e.decide(b, time.Now())
		if got := g.State(method); got != StateClosed {
			t.Fatalf("two probes decided: state %v, want closed", got)
		}
		e.done(a, nil, 0, time.Now())
		e.done(b, errFailure, 0, time.Now())
		if got := g.State(method); got != StateOpen {
			t.Errorf("decided probe failing after the breaker closed: state %v, want open", got)
		}
	})
}

// TestFullOfOpenBreakers: a Group whose breakers are all open keeps them
// all (the bound yields), and new keys go on being created.
func TestFullOfOpenBreakers(t *testing.T) {
	const maxKeys = 8
	g := mustGroup(t, WithMaxKeys(maxKeys), WithConsecutiveFailures(1))
	for i := range 4 * maxKeys {
		call(t, g, fmt.Sprint("open", i), errFailure)
	}
	for i := range 4 * maxKeys {
		if got := g.State(fmt.Sprint("open", i)); got != StateOpen {
			t.Fatalf("open%d: %v, want open", i, got)
		}
	}
	if n := len(g.Keys()); n != 4*maxKeys {
		t.Errorf("%d breakers, want all %d open ones", n, 4*maxKeys)
	}
}
