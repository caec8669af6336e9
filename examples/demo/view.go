package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// view shows the demo as it runs: in place, redrawn a few times a second,
// on a terminal; otherwise as a line per phase and event.
type view struct {
	d    *demo
	out  io.Writer
	live bool

	mu     sync.Mutex // guards the fields below
	title  string
	about  string // what the phase shows
	p      *phaseStats
	wb     *watchedBuilder
	status func() string // called without mu: see statusLine
	events []string
	lines  int // lines of the last frame drawn
	done   []*phaseStats

	stopOnce sync.Once
	quit     chan struct{}
	stopped  chan struct{}
}

func newView(d *demo, out io.Writer, live bool) *view {
	v := &view{d: d, out: out, live: live, quit: make(chan struct{}), stopped: make(chan struct{})}
	go v.loop()
	return v
}

func (v *view) loop() {
	defer close(v.stopped)
	if !v.live {
		<-v.quit
		return
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-v.quit:
			v.draw()
			return
		case <-tick.C:
			v.draw()
		}
	}
}

// stop draws the last frame and stops redrawing; it is idempotent.
func (v *view) stop() {
	v.stopOnce.Do(func() { close(v.quit) })
	<-v.stopped
}

// setPhase starts showing a new phase; the previous one is finished.
func (v *view) setPhase(title, about string, p *phaseStats, wb *watchedBuilder, status func() string) {
	_, line := v.statusLine()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.finishLocked(line)
	v.title, v.about, v.p, v.wb, v.status = title, about, p, wb, status
	if !v.live {
		logf(v.out, v.d.start, "phase %s", title)
		fmt.Fprintln(v.out, about)
	}
}

// addPhase marks p finished.
func (v *view) addPhase(p *phaseStats) {
	_, line := v.statusLine()
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.p == p {
		v.finishLocked(line)
	}
}

// statusLine returns the current phase and its status line. The status
// func runs without the view's lock: it may read a breaker's state, which
// delivers the breaker's pending state changes, whose callback reports
// through event.
func (v *view) statusLine() (*phaseStats, string) {
	v.mu.Lock()
	p, status := v.p, v.status
	v.mu.Unlock()
	if p == nil {
		return nil, ""
	}
	return p, status()
}

func (v *view) finishLocked(status string) {
	if v.p == nil {
		return
	}
	if !v.live {
		fmt.Fprint(v.out, v.frameLocked(status, false))
	}
	v.done = append(v.done, v.p)
	v.p = nil
}

// event records one line of narration.
func (v *view) event(format string, args ...any) {
	line := fmt.Sprintf("[%5.1fs] %s", time.Since(v.d.start).Seconds(), fmt.Sprintf(format, args...))
	v.mu.Lock()
	defer v.mu.Unlock()
	v.events = append(v.events, line)
	if !v.live {
		fmt.Fprintln(v.out, line)
	}
}

// draw redraws the frame in place.
func (v *view) draw() {
	p, status := v.statusLine()
	v.mu.Lock()
	defer v.mu.Unlock()
	if p == nil || p != v.p {
		return // no phase, or a new one began meanwhile: the next tick draws it
	}
	var b bytes.Buffer
	if v.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\x1b[J", v.lines) // up over the last frame, clear below
	}
	frame := v.frameLocked(status, true)
	b.WriteString(frame)
	v.lines = strings.Count(frame, "\n")
	v.out.Write(b.Bytes())
}

const barWidth = 30

func (v *view) frameLocked(status string, withEvents bool) string {
	p := v.p
	var b strings.Builder
	fmt.Fprintf(&b, "── phase %s ── %.1fs\n", v.title, time.Since(p.start).Seconds())
	if withEvents && v.about != "" {
		fmt.Fprintln(&b, v.about)
	}
	if v.wb != nil {
		fmt.Fprintf(&b, "resolver: %s\n", strings.Join(v.wb.instances(), " "))
	}
	if status != "" {
		fmt.Fprintln(&b, status)
	}
	for _, be := range backends {
		if p.served[be.id] == nil {
			continue // not a backend of this phase
		}
		share := p.share(be.id)
		n := int(share*barWidth + 0.5)
		fmt.Fprintf(&b, "  %-3s %-5s w%d %-7s %s%s %5.1f%%  %d\n", be.id, be.zone, be.weight, be.role,
			strings.Repeat("█", n), strings.Repeat("·", barWidth-n), 100*share, p.served[be.id].Load())
	}
	fmt.Fprintf(&b, "  calls %d  failed %d  rate-limited %d  breaker-refused %d  p50 %v  p99 %v\n",
		p.calls.Load(), p.failed.Load(), p.limited.Load(), p.breakerd.Load(),
		p.latency.quantile(0.50).Round(10*time.Microsecond), p.latency.quantile(0.99).Round(10*time.Microsecond))
	if withEvents {
		for _, e := range v.events[max(0, len(v.events)-4):] {
			fmt.Fprintln(&b, e)
		}
	}
	return b.String()
}
