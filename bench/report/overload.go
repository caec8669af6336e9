package report

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/grpckit/grpckit/bench/clientoverload"
	"github.com/grpckit/grpckit/bench/overload"
)

// The overload results of a results directory.
const (
	OverloadFile       = "overload.json"       // bench/cmd/overload
	ClientOverloadFile = "clientoverload.json" // bench/cmd/clientoverload
	// ClientOverloadNote is the client overload section as written by hand
	// from a run whose JSON was not kept; the report uses it only when
	// ClientOverloadFile is missing.
	ClientOverloadNote = "clientoverload.md"
	// OverloadNote is read beside OverloadFile: notes written by hand on
	// that run, appended to its section. scripts/bench.sh publish does not
	// carry it over to a new run.
	OverloadNote = "overload.md"
)

// ClientOverload is what bench/cmd/clientoverload writes.
type ClientOverload struct {
	Config  clientoverload.Config
	Results []clientoverload.Result
}

// loadOverload reads the overload results of dir into in.
func loadOverload(dir string, in *Inputs) error {
	for name, v := range map[string]any{OverloadFile: &in.Overload, ClientOverloadFile: &in.ClientOverload} {
		if err := readJSON(filepath.Join(dir, name), v); err != nil {
			return err
		}
	}
	if h := in.Overload; h != nil && h.Halving != nil {
		h.Halving.Settle(h.Halving.Points, h.Config.Halving) // as the current code judges them
	}
	b, err := os.ReadFile(filepath.Join(dir, ClientOverloadNote))
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("report: %v", err)
	}
	in.ClientOverloadNote = string(b)
	if b, err = os.ReadFile(filepath.Join(dir, OverloadNote)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("report: %v", err)
	}
	in.OverloadNote = string(b)
	return nil
}

// overloadPlots draws the overload plots into dir.
func overloadPlots(dir string, in *Inputs) ([]string, error) {
	if in.Overload == nil || len(in.Overload.Steps) == 0 {
		return nil, nil
	}
	return overload.Plots(in.Overload, dir)
}

func overloadSection(b *strings.Builder, in *Inputs, plots []string) {
	if in.Overload == nil || len(in.Overload.Steps) == 0 {
		b.WriteString("## Overload\n\nNot measured in this run.\n\n")
		return
	}
	b.WriteString(overload.Markdown(in.Overload, plots))
	if note := strings.TrimSpace(in.OverloadNote); note != "" {
		b.WriteString(note + "\n\n")
	}
}

// overloadChecks judge grpckit's limiter against the overload goals: at 2×
// and 4× goodput ≥ 90 % of capacity and p99 ≤ 2× the 0.5× p99; at 0.5×
// nothing shed. The other protections are shown for context.
func overloadChecks(in *Inputs) []Check {
	f := in.Overload
	if f == nil || len(f.Steps) == 0 {
		return []Check{{Label: "overload run", Measured: "—", Status: NotMeasured, Note: "no " + OverloadFile}}
	}
	var out []Check
	for _, p := range overload.Protections {
		out = append(out, protectionChecks(f, p, p != overload.Grpckit)...)
	}
	return out
}

func protectionChecks(f *overload.File, protection string, info bool) []Check {
	steps := map[float64]overload.Step{}
	for _, s := range f.Steps {
		if s.Protection == protection {
			steps[s.Load] = s
		}
	}
	judged := func(c Check, ok bool) Check {
		c.Status = judge(ok, info)
		return c
	}
	var out []Check
	low, okLow := steps[0.5]
	if okLow {
		out = append(out, judged(Check{Label: protection + ", 0.5×: calls shed", Value: float64(low.Shed),
			Measured: fmt.Sprintf("%d of %d", low.Shed, low.Sent), Target: "0", Note: "one run"}, low.Shed == 0))
	}
	for _, load := range []float64{2, 4} {
		s, ok := steps[load]
		if !ok {
			continue
		}
		out = append(out, judged(Check{Label: fmt.Sprintf("%s, %g×: goodput", protection, load), Value: s.GoodputShare,
			Measured: fmt.Sprintf("%.0f %%", 100*s.GoodputShare), Target: "≥ 90 % of capacity",
			Note: fmt.Sprintf("%.0f OK/s of %.0f calls/s capacity", s.Goodput, s.Capacity)}, s.GoodputShare >= 0.9))
		if okLow && low.P99 > 0 {
			r := s.P99 / low.P99
			out = append(out, judged(Check{Label: fmt.Sprintf("%s, %g×: p99 of admitted calls over the 0.5× p99", protection, load),
				Anchor: fmt.Sprintf("%.1f ms", low.P99), Ours: fmt.Sprintf("%.1f ms", s.P99), Value: r,
				Measured: fmt.Sprintf("%.2f×", r), Target: "≤ 2×", Note: "one run"}, r <= 2))
		}
	}
	return out
}

func clientOverloadSection(b *strings.Builder, in *Inputs) {
	if in.ClientOverload == nil || len(in.ClientOverload.Results) == 0 {
		if note := strings.TrimSpace(in.ClientOverloadNote); note != "" {
			b.WriteString(note)
			b.WriteString("\n\n")
			return
		}
		b.WriteString("## Client overload: adaptive throttling and the retry budget\n\nNot measured in this run.\n\n")
		return
	}
	c := in.ClientOverload.Config
	b.WriteString("## Client overload: adaptive throttling and the retry budget\n\n")
	fmt.Fprintf(b, "bench/cmd/clientoverload (package bench/clientoverload) gives each mechanism its own three greeter backends over loopback, "+
		"one channel per backend, each with its own breaker, throttle or budget. Calls go open loop at %.0f/s per mechanism, a third "+
		"to each backend, with a %v deadline: %v healthy, then backend 0 fails %.0f %% of its calls with Unavailable for %v, then heals. "+
		"All mechanisms run side by side on the same clock, each with its defaults. "+
		"Failing load: calls that reached backend 0 while it failed, retries included, as a share of the calls aimed at it; "+
		"healthy lost: calls to backends 1 and 2 that did not succeed; successes lost: the successes the three backends would have "+
		"given that the callers did not get; recovery: from the heal until at most 10 %% of the calls aimed at backend 0 are refused over a second.\n\n",
		c.Rate, c.Deadline, c.Warmup, 100*c.FailShare, c.Failing)
	b.WriteString("| mechanism | failing load | healthy lost | successes lost | recovery |\n|---|---:|---:|---:|---:|\n")
	for _, r := range in.ClientOverload.Results {
		rec := r.Recovery.String()
		if r.Recovery < 0 {
			rec = fmt.Sprintf("> %v", c.MaxRecovery)
		}
		fmt.Fprintf(b, "| %s | %.1f %% | %.2f %% | %.2f %% | %s |\n", r.Mechanism, 100*r.FailingLoad, 100*r.LostHealthy, 100*r.LostSuccesses, rec)
	}
	b.WriteString("\n")
}
