package breaker

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"
)

// TestRandomSequences drives one breaker through random admissions,
// first responses and outcomes at random times, and checks after every step
// what must always hold: a half-open breaker never has more than
// MaxRequests probes undecided, a closed one never holds the failure streak
// that trips it, every state change is one the state machine allows, and
// the breaker's count of calls in flight matches the calls the test holds.
func TestRandomSequences(t *testing.T) {
	for seed := range uint64(200) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { randomSequence(t, seed) })
		})
	}
}

func randomSequence(t *testing.T, seed uint64) {
	const maxRequests, trip = 3, 2
	allowed := map[change]bool{
		{StateClosed, StateOpen}: true, {StateOpen, StateHalfOpen}: true,
		{StateHalfOpen, StateClosed}: true, {StateHalfOpen, StateOpen}: true,
	}
	var bad []change
	g := mustGroup(t, WithMaxRequests(maxRequests), WithConsecutiveFailures(trip),
		WithRollingWindow(time.Second, 100*time.Millisecond), WithOpenTimeout(500*time.Millisecond),
		WithOnStateChange(func(_ string, from, to State) {
			if !allowed[change{from, to}] {
				bad = append(bad, change{from, to})
			}
		}))
	e := g.get(method)
	rng := rand.New(rand.NewPCG(seed, 1))
	results := []error{nil, errFailure, errExcluded}
	var held []ticket
	for step := range 400 {
		switch op := rng.IntN(10); {
		case op < 4:
			if tk, err := e.admit(time.Now()); err == nil {
				held = append(held, tk)
			}
		case op < 6 && len(held) > 0:
			i := rng.IntN(len(held))
			held[i] = e.decide(held[i], time.Now())
		case op < 9 && len(held) > 0:
			i := rng.IntN(len(held))
			e.done(held[i], results[rng.IntN(len(results))], 0, time.Now())
			held = append(held[:i], held[i+1:]...)
		default:
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		}
		e.flush(t.Context())
		check(t, step, e, held, maxRequests, trip)
	}
	if len(bad) > 0 {
		t.Errorf("state changes the state machine does not allow: %v", bad)
	}
}

func check(t *testing.T, step int, e *entry, held []ticket, maxRequests, trip uint32) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.currentLocked(time.Now())
	undecided := uint32(0)
	for _, tk := range held {
		if tk.kind == kindProbe && tk.epoch == e.epoch && e.state == StateHalfOpen {
			undecided++
		}
	}
	switch {
	case e.inflight != len(held):
		t.Fatalf("step %d: breaker counts %d calls in flight, the test holds %d", step, e.inflight, len(held))
	case undecided+e.probes.TotalSuccesses > maxRequests:
		t.Fatalf("step %d: %d probes undecided and %d succeeded, over MaxRequests %d", step, undecided, e.probes.TotalSuccesses, maxRequests)
	case e.state == StateClosed && e.win.counts().ConsecutiveFailures >= trip:
		t.Fatalf("step %d: closed with a streak of %d failures", step, e.win.counts().ConsecutiveFailures)
	}
}
