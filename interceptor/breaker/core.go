package breaker

import (
	"errors"
	"time"

	"github.com/sony/gobreaker/v2"
)

// The state machine is this package's own, with gobreaker's states, Counts
// and refusals. gobreaker forgets an outcome whose call began in an earlier
// generation (a window ago, or before a state change) and frees a half-open
// probe slot only when the call ends; this package needs calls longer than
// the window to count and streams to be decided at their first response.
//
// A call is admitted with a ticket naming the epoch (one per state: every
// state change starts a new one) and what it was admitted as. Its outcome
// counts only in the state it was admitted in:
//
//   - kindClosed: counted in the current window if the breaker has stayed
//     closed since (the epoch is unchanged), however many windows ago the
//     call began.
//   - kindProbe: decides the half-open breaker it was admitted by, if that
//     is still the current state.
//   - kindDecided: a stream probe decided at its first response. Its end
//     counts in the closed state that followed its half-open epoch; a
//     failure while that half-open epoch lasts opens the breaker.

type ticketKind uint8

const (
	kindClosed ticketKind = iota
	kindProbe
	kindDecided
)

// ticket is what admit hands a call and the call hands back with its
// outcome.
type ticket struct {
	epoch uint64
	kind  ticketKind
}

// errEvicted is admit's answer when the entry was evicted from its Group
// after the caller found it: the caller looks the key up again.
var errEvicted = errors.New("breaker: evicted")

// admit lets a call through or refuses it with gobreaker.ErrOpenState or
// gobreaker.ErrTooManyRequests.
func (e *entry) admit(now time.Time) (ticket, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.evicted {
		return ticket{}, errEvicted
	}
	e.currentLocked(now)
	e.lastUse = now
	switch e.state {
	case StateClosed:
		e.win.request()
		e.inflight++
		return ticket{e.epoch, kindClosed}, nil
	case StateHalfOpen:
		if e.probes.Requests-e.probes.TotalExclusions >= e.g.opts.maxRequests {
			return ticket{}, gobreaker.ErrTooManyRequests
		}
		e.probes.Requests++
		e.inflight++
		return ticket{e.epoch, kindProbe}, nil
	}
	return ticket{}, gobreaker.ErrOpenState
}

// done records the outcome of an admitted call: nil, errFailure or
// errExcluded, answered by backend peer (see peerID).
func (e *entry) done(t ticket, result error, peer uint64, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.currentLocked(now)
	e.inflight--
	e.lastUse = now
	switch {
	case t.kind == kindClosed && e.state == StateClosed && e.epoch == t.epoch,
		t.kind == kindDecided && e.state == StateClosed && e.epoch == t.epoch+1:
		e.closedOutcomeLocked(result, peer, now)
	case t.kind == kindProbe && e.state == StateHalfOpen && e.epoch == t.epoch:
		e.probeOutcomeLocked(result, now)
	case t.kind == kindDecided && e.state == StateHalfOpen && e.epoch == t.epoch && result == errFailure:
		e.setStateLocked(StateOpen, now)
	}
}

// decide records a stream probe's first response as a success and returns
// the ticket its end is recorded with. Other tickets are returned as they
// are.
func (e *entry) decide(t ticket, now time.Time) ticket {
	if t.kind != kindProbe {
		return t
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.currentLocked(now)
	if e.state == StateHalfOpen && e.epoch == t.epoch {
		e.probeOutcomeLocked(nil, now)
	}
	return ticket{t.epoch, kindDecided}
}

func (e *entry) closedOutcomeLocked(result error, peer uint64, now time.Time) {
	switch result {
	case nil:
		e.win.success(peer)
	case errExcluded:
		e.win.exclusion()
	default:
		e.win.failure(peer, now)
		if e.g.opts.readyToTrip(e.win.counts()) && e.spreadLocked(now) {
			e.setStateLocked(StateOpen, now)
		}
	}
}

// spreadLocked is the spread rule (WithSpread): the failures in the window
// come from more than the configured share of the backends that answered
// in it, and, if only one backend answered, they have lasted the lone time.
// With more backends in the window than it tells apart, the rule holds.
func (e *entry) spreadLocked(now time.Time) bool {
	share, lone := e.g.opts.spread, e.g.opts.loneFor
	if share == 0 && lone == 0 || e.win.overflowed() {
		return true
	}
	answered, failing := e.win.spread()
	if float64(failing) <= share*float64(answered) {
		return false
	}
	return answered > 1 || now.Sub(e.win.since) >= lone
}

func (e *entry) probeOutcomeLocked(result error, now time.Time) {
	switch result {
	case nil:
		e.probes.TotalSuccesses++
		e.probes.ConsecutiveSuccesses++
		if e.probes.ConsecutiveSuccesses >= e.g.opts.maxRequests {
			e.setStateLocked(StateClosed, now)
		}
	case errExcluded:
		e.probes.TotalExclusions++ // frees the slot
	default:
		e.setStateLocked(StateOpen, now)
	}
}

// currentLocked moves the state on with time: an open breaker whose timeout
// has passed is half-open; a closed one's window expires old buckets.
func (e *entry) currentLocked(now time.Time) {
	switch e.state {
	case StateClosed:
		e.win.advance(now)
	case StateOpen:
		if now.After(e.expiry) {
			e.setStateLocked(StateHalfOpen, now)
		}
	}
}

// setStateLocked starts a new epoch in state to and queues the change for
// delivery (see notify.go).
func (e *entry) setStateLocked(to State, now time.Time) {
	from := e.state
	e.state = to
	e.epoch++
	e.probes = Counts{}
	e.win.reset(now)
	if to == StateOpen {
		e.expiry = now.Add(e.g.opts.openTimeout)
	}
	e.record(e.key, from, to)
}

// stateAt returns the state at now.
func (e *entry) stateAt(now time.Time) State {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.currentLocked(now)
	return e.state
}

// counts returns the counters of the current state: the window's when
// closed, the probes' when half-open, none when open.
func (e *entry) counts(now time.Time) Counts {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.currentLocked(now)
	switch e.state {
	case StateClosed:
		return e.win.counts()
	case StateHalfOpen:
		return e.probes
	}
	return Counts{}
}
