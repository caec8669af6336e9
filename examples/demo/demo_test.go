package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDemo runs the whole demo with short phases and checks that its summary
// shows what the demo is for.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := defaultConfig()
	// Long enough that a loaded machine's stalls (a second of CPU
	// starvation under -race beside other packages' tests) do not decide
	// what a phase shows.
	cfg.phase = 2500 * time.Millisecond
	cfg.live = false
	var out bytes.Buffer
	sum, err := run(ctx, cfg, &out)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("demo output:\n%s", out.String())
		}
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(out.String(), "Summary") {
		t.Errorf("the output has no summary")
	}
	phase := func(name string) *phaseStats {
		i := slices.IndexFunc(sum.phases, func(p *phaseStats) bool { return p.name == name })
		if i < 0 {
			t.Fatalf("no %s phase in the summary", name)
		}
		return sum.phases[i]
	}

	rr := phase("round_robin")
	for _, b := range backends {
		if rr.served[b.id].Load() == 0 {
			t.Errorf("round_robin: backend %s served no call", b.id)
		}
	}
	wrr := phase("wrr")
	for _, b := range backends {
		want := float64(b.weight) / 8
		if got := wrr.share(b.id); got < want-0.05 || got > want+0.05 {
			t.Errorf("wrr: %s's share is %.3f, want %.3f ± 0.05 (its weight)", b.id, got, want)
		}
	}
	// round_robin sends the rate-limited backend a fifth of the calls, more
	// than it admits; p2c soon finds its rejections expensive.
	if p2c, rr := phase("p2c").limited.Load(), rr.limited.Load(); p2c > 0 && p2c >= rr {
		t.Errorf("p2c: %d calls rate-limited, want fewer than round_robin's %d: rejections make a backend look expensive", p2c, rr)
	}
	ch := phase("consistenthash")
	// Random picks would send about three in four of a user's later calls
	// elsewhere (1 − Σ share²); consistent hashing only those the bounded
	// load moves. How many that is depends on the calls in flight, which a
	// stalled machine inflates, so the bound is half of the random figure:
	// well under what random picks give, whatever the machine's load.
	if moved, repeat := ch.movedCalls.Load(), ch.repeatCalls.Load(); repeat < 100 || float64(moved) > 0.375*float64(repeat) {
		t.Errorf("consistenthash: %d of %d later calls of a user went to another backend than its first, want at most 3/8 (half of random picks') of at least 100", moved, repeat)
	}
	zone := phase("zoneaware")
	var local float64 // weight of the local zone
	for _, b := range backends {
		if b.zone == localZone {
			local += float64(b.weight)
		}
	}
	for _, b := range backends {
		got := zone.share(b.id)
		if b.zone != localZone && got > 0.05 {
			t.Errorf("zoneaware: %s in %s took %.3f of the calls of a client in %s, want at most 0.05", b.id, b.zone, got, localZone)
		}
		// wrr inside the zone: the local backends split the calls by weight.
		if want := float64(b.weight) / local; b.zone == localZone && (got < want-0.1 || got > want+0.1) {
			t.Errorf("zoneaware: %s took %.3f of the calls, want %.3f ± 0.1 (its weight in %s)", b.id, got, want, localZone)
		}
	}
	if sum.ejected < 1 {
		t.Errorf("outlier: %d ejections recorded, want at least 1", sum.ejected)
	}
	if got := phase("outlier").share(failingID); got > 0.05 {
		t.Errorf("outlier: failing %s took %.3f of the calls, want at most 0.05", failingID, got)
	}

	br := sum.breaker
	// It opens while the backend fails, and closes through half-open once
	// it recovers. Later transitions, if a stalled machine makes calls miss
	// their deadline after that, are not what the phase shows.
	if open := slices.Index(br.transitions, "closed→open"); open < 0 || !slices.Contains(br.transitions[open:], "half-open→closed") {
		t.Errorf("breaker transitions %v, want closed→open, then half-open→closed", br.transitions)
	}
	if br.refused == 0 {
		t.Errorf("the open breaker refused no call")
	}

	k := sum.kill
	if k.whileDown != 0 {
		t.Errorf("%d calls reached %s between its shutdown and its restart", k.whileDown, killedID)
	}
	if k.failed != 0 {
		t.Errorf("%d calls failed, but for rate limits, while %s was shut down and restarted", k.failed, killedID)
	}
	if k.after == 0 {
		t.Errorf("%s served no call after its restart", killedID)
	}
	if limit := 5 * time.Second; k.dropped > limit || k.returned > limit {
		t.Errorf("the resolver dropped %s after %v and listed it again after %v, want both within %v", killedID, k.dropped, k.returned, limit)
	}

	// Sent three times what it served at best, the overloaded backend
	// sheds calls at once, and most of the calls it admits meet their
	// deadline (without a limiter the queue grows until nearly every call
	// misses it). How much it serves meanwhile depends on what else the
	// machine runs, so it is not checked.
	o := sum.over
	t.Logf("overload: capacity %.0f calls/s, sent %d in %v: %d OK in time, %d shed (pushback %v), %d late, %d failed otherwise, admitted p99 %v",
		o.capacity, o.sent, o.duration, o.ok, o.shed, o.pushback, o.late, o.other, o.p99)
	if o.shed == 0 || o.pushback <= 0 {
		t.Errorf("overload: %d of %d calls shed, pushback %v; want calls shed with a pushback", o.shed, o.sent, o.pushback)
	}
	if o.ok == 0 || o.late+o.other >= o.ok {
		t.Errorf("overload: %d calls OK in time, %d late, %d failed otherwise; want most admitted calls answered in time", o.ok, o.late, o.other)
	}
}
