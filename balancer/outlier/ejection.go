package outlier

import (
	"slices"
	"time"
)

// action is an ejection or a return decided under mu and carried out on the
// serializer.
type action struct {
	ep       *endpoint
	eject    bool
	reason   string
	d        time.Duration // how long the ejection lasts
	n        int           // ejections in a row, this one included
	subConns []*subConn
}

// kick queues a sweep unless one is queued already. It is called by finished
// RPCs and by the timer.
func (b *outlierBalancer) kick() {
	if b.kicked.CompareAndSwap(false, true) {
		b.serial.schedule(b.sweepFn)
	}
}

// sweep decides and carries out ejections and returns. It runs on the
// serializer.
func (b *outlierBalancer) sweep() {
	b.kicked.Store(false)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	acts, refused := b.sweepLocked(b.clock.Now())
	b.mu.Unlock()
	for _, a := range acts {
		b.apply(a)
	}
	if refused > 0 {
		refusedMetric.Record(b.MetricsRecorder(), int64(refused), b.target)
	}
}

// sweepLocked runs the failure-rate rule when an interval has passed, lets
// back in the endpoints whose ejection is over, runs the consecutive-failures
// rule, and arms the timer for the next deadline. refused counts ejections
// maxEjectionPercent prevented.
func (b *outlierBalancer) sweepLocked(now time.Time) (acts []action, refused int) {
	cfg := b.cfg.Load()
	var rateBad []*endpoint
	if !now.Before(b.nextInterval) {
		rateBad = b.intervalLocked(cfg)
		b.nextInterval = now.Add(cfg.interval)
	}
	acts = b.returnsLocked(now, acts)
	acts, r1 := b.ejectLocked(cfg, now, rateBad, ReasonFailureRate, acts)
	acts, r2 := b.ejectLocked(cfg, now, b.consecutiveLocked(cfg), ReasonConsecutiveFailures, acts)
	b.armLocked(now)
	return acts, r1 + r2
}

// intervalLocked closes the counting interval: it ends the probation of
// endpoints that served without failing, lets ejection history fade for
// endpoints that had no failure, and returns the endpoints whose failure rate
// is over the threshold.
func (b *outlierBalancer) intervalLocked(cfg *lbConfig) (bad []*endpoint) {
	for _, e := range b.order {
		s, f := e.takeCounts()
		if e.ejected || f > 0 {
			if !e.ejected && overRate(cfg, s, f) {
				bad = append(bad, e)
			}
			continue
		}
		if e.probation.Load() {
			e.probation.Store(s == 0)
		} else if e.ejections > 0 {
			e.ejections--
		}
	}
	return bad
}

// overRate reports whether s successes and f failures break the failure-rate
// rule.
func overRate(cfg *lbConfig, s, f int64) bool {
	total := s + f
	return cfg.failureRate > 0 && total > 0 && total >= int64(cfg.minRequests) &&
		float64(f)/float64(total) > cfg.failureRate // not f > rate×total, which rounds down at the boundary
}

// consecutiveLocked returns the endpoints at or over the consecutive-failures
// limit, and those on probation that failed once.
func (b *outlierBalancer) consecutiveLocked(cfg *lbConfig) (bad []*endpoint) {
	limit := int64(cfg.consecutiveFailures)
	for _, e := range b.order {
		n := e.consecutiveFailures()
		if !e.ejected && ((limit > 0 && n >= limit) || (n > 0 && e.probation.Load())) {
			bad = append(bad, e)
		}
	}
	return bad
}

// returnsLocked lets back in, on probation, the endpoints whose ejection is
// over.
func (b *outlierBalancer) returnsLocked(now time.Time, acts []action) []action {
	for _, e := range b.order {
		if e.ejected && !now.Before(e.until) {
			acts = append(acts, b.returnLocked(e))
		}
	}
	return acts
}

// capLocked lets back in, on probation, the ejected endpoints over cfg's
// maxEjectionPercent of the current endpoints, those whose ejection ends
// first first: the cap holds for every endpoint set, also after endpoints
// left or a configuration lowered it.
func (b *outlierBalancer) capLocked(cfg *lbConfig) (acts []action) {
	excess := b.nEjected - cfg.maxEjected(len(b.order))
	if excess <= 0 {
		return nil
	}
	var ejected []*endpoint
	for _, e := range b.order {
		if e.ejected {
			ejected = append(ejected, e)
		}
	}
	slices.SortStableFunc(ejected, func(x, y *endpoint) int { return x.until.Compare(y.until) })
	for _, e := range ejected[:excess] {
		acts = append(acts, b.returnLocked(e))
	}
	return acts
}

// returnLocked lets e back in, on probation.
func (b *outlierBalancer) returnLocked(e *endpoint) action {
	e.ejected = false
	b.nEjected--
	e.resetCounts()
	e.probation.Store(true)
	e.watched.Store(true) // its probation needs its successes
	return action{ep: e, subConns: subConnsOf(e)}
}

// ejectLocked ejects the candidates while maxEjectionPercent allows.
func (b *outlierBalancer) ejectLocked(cfg *lbConfig, now time.Time, cands []*endpoint, reason string, acts []action) ([]action, int) {
	refused := 0
	for _, e := range cands {
		if e.ejected {
			continue
		}
		if b.nEjected+1 > cfg.maxEjected(len(b.order)) {
			refused++
			continue
		}
		e.ejected = true
		b.nEjected++
		e.ejections++
		d := cfg.ejectionTime(e.ejections)
		e.since, e.until = now, now.Add(d)
		e.probation.Store(false)
		e.resetCounts()
		acts = append(acts, action{ep: e, eject: true, reason: reason, d: d, n: e.ejections, subConns: subConnsOf(e)})
	}
	return acts, refused
}

// retimeLocked recomputes the end of every ejection in force with cfg's
// ejection times, as if cfg had been in force when it began.
func (b *outlierBalancer) retimeLocked(cfg *lbConfig) {
	for _, e := range b.order {
		if e.ejected {
			e.until = e.since.Add(cfg.ejectionTime(e.ejections))
		}
	}
}

// armLocked sets the timer for the next interval end or ejection end.
func (b *outlierBalancer) armLocked(now time.Time) {
	if b.closed {
		return
	}
	next := b.nextInterval
	for _, e := range b.order {
		if e.ejected && e.until.Before(next) {
			next = e.until
		}
	}
	if b.timer != nil {
		b.timer.Stop()
	}
	b.timer = b.clock.AfterFunc(max(next.Sub(now), 0), b.kick)
}

func subConnsOf(e *endpoint) []*subConn {
	scs := make([]*subConn, 0, len(e.subConns))
	for sc := range e.subConns {
		scs = append(scs, sc)
	}
	return scs
}

// apply carries out one decision on the serializer, and logs and counts it.
func (b *outlierBalancer) apply(a action) {
	for _, sc := range a.subConns {
		sc.setEjected(a.eject)
	}
	if a.eject {
		logger.Warningf("outlier %p: ejected endpoint %s for %v (%s, ejection %d in a row)", b, a.ep.addr, a.d, a.reason, a.n)
		ejectionsMetric.Record(b.MetricsRecorder(), 1, b.target, a.reason)
		return
	}
	logger.Infof("outlier %p: endpoint %s back on probation", b, a.ep.addr)
	returnsMetric.Record(b.MetricsRecorder(), 1, b.target)
}
