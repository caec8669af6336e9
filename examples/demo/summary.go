package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/grpckit/grpckit/examples/internal/greeterapp"
)

// printSummary prints a table per balancer and what the breaker and the
// kill phases showed.
func printSummary(w io.Writer, cfg config, s *summary) {
	fmt.Fprintln(w, "\nSummary (share = the backend's part of the calls that reached a backend)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{"balancer", "calls", "failed", "rate-limited", "p50", "p99"}
	for _, b := range backends {
		head = append(head, fmt.Sprintf("%s w%d %s", b.id, b.weight, b.zone))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, p := range s.phases {
		row := []string{p.name, fmt.Sprint(p.calls.Load()), fmt.Sprint(p.failed.Load()), fmt.Sprint(p.limited.Load()),
			fmtDur(p.latency.quantile(0.50)), fmtDur(p.latency.quantile(0.99))}
		for _, b := range backends {
			row = append(row, fmt.Sprintf("%.1f%%", 100*p.share(b.id)))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	row := []string{"(weights)", "", "", "", "", ""}
	total := 0.0
	for _, b := range backends {
		total += float64(b.weight)
	}
	for _, b := range backends {
		row = append(row, fmt.Sprintf("%.1f%%", 100*float64(b.weight)/total))
	}
	fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	tw.Flush()

	fmt.Fprintf(w, "\n%s is slow (%d×), %s is rate-limited, %s fails every call from the %s phase on;\n",
		roleID("slow"), cfg.slowness, roleID("limited"), failingID, greeterapp.Balancers[failingFrom()])
	fmt.Fprintf(w, "the zone-aware client is in %s; the outlier policy ejected %d time(s).\n", localZone, s.ejected)
	fmt.Fprintf(w, "breaker on %s alone: %s; %d calls refused without touching the network, %d reached it (failing until half-way).\n",
		failingID, strings.Join(s.breaker.transitions, ", "), s.breaker.refused, s.breaker.reached)
	k := s.kill
	fmt.Fprintf(w, "kill %s: the resolver dropped it %v after shutdown began; %d calls reached it while it was gone;\n",
		killedID, k.dropped.Round(time.Millisecond), k.whileDown)
	fmt.Fprintf(w, "restarted, it was listed again after %v and served %d calls; %d calls failed in that phase but for rate limits.\n",
		k.returned.Round(time.Millisecond), k.after, k.failed)
	o := s.over
	fmt.Fprintf(w, "overload on %s (%v of CPU per call): it served up to %.0f calls/s; sent %d× that for %v, it answered\n",
		overloadedID, overloadWork, o.capacity, overloadFactor, o.duration.Round(time.Millisecond))
	fmt.Fprintf(w, "%.0f calls/s OK in time (%.0f %%), shed %d of %d calls at once (retry pushback %v), and %d missed their %v deadline;\n",
		float64(o.ok)/o.duration.Seconds(), 100*o.goodput(), o.shed, o.sent, o.pushback, o.late, overloadDeadline)
	fmt.Fprintf(w, "the p99 of the calls admitted was %s (the server stack's adaptive limiter, nothing configured).\n", fmtDur(o.p99))
}

func fmtDur(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%dµs", d.Microseconds())
	}
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}
