package relist

import (
	"fmt"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// PlotFile is the plot the report draws from a File.
const PlotFile = "perf-relist.png"

// Plots returns one plot per scenario: re-lists per millisecond against
// time since the break, with the spread and with the backoff alone. The
// y axis is logarithmic: the backoff alone peaks about twenty times higher.
func Plots(f *File) ([]*plot.Plot, error) {
	var ps []*plot.Plot
	for _, s := range f.Scenarios {
		p := plot.New()
		p.Title.Text = fmt.Sprintf("registry back after %s", outageLabel(s.OutageMS))
		p.X.Label.Text = "seconds since the watches broke"
		p.Y.Label.Text = fmt.Sprintf("re-lists per ms (mean over %g ms, log scale)", f.Config.BucketMS)
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		p.Add(plotter.NewGrid())
		p.Legend.Top = true
		for i, o := range []struct {
			name string
			out  Outcome
		}{{"spread first retry (grpckit)", s.Spread}, {"backoff alone", s.Backoff}} {
			var pts plotter.XYs
			for j, c := range o.out.Series {
				if c == 0 {
					continue // log scale
				}
				pts = append(pts, plotter.XY{X: (float64(j) + 0.5) * f.Config.BucketMS / 1000, Y: float64(c) / f.Config.BucketMS})
			}
			if len(pts) == 0 {
				continue
			}
			l, err := plotter.NewLine(pts)
			if err != nil {
				return nil, fmt.Errorf("relist: %v", err)
			}
			l.Color, l.Dashes, l.Width = plotutil.Color(i), plotutil.Dashes(i), vg.Points(1.5)
			p.Add(l)
			p.Legend.Add(o.name, l)
		}
		// Room above the peak for the legend; the first re-list near the
		// left edge.
		p.X.Min = min(p.X.Min, s.OutageMS/1000)
		p.Y.Max *= 8
		ps = append(ps, p)
	}
	return ps, nil
}

// Markdown returns the re-list part of the registry section of
// docs/PERFORMANCE.md, with the plot if drawn is true.
func Markdown(f *File, drawn bool) string {
	var b strings.Builder
	c := f.Config
	fmt.Fprintf(&b, "After a registry restart or outage every shared watch breaks at once. bench/relist simulates it on virtual time "+
		"for %d processes × %d services (one shared watch each, %d watches), running the watchers' own retry code "+
		"(internal/relist.Delay: backoff %g ms base, ×%g, ±%g %% jitter, max %g ms, and a first retry spread over up to %g ms) "+
		"beside the backoff alone:\n\n", c.Processes, c.Services, c.Processes*c.Services, c.BaseMS, c.Multiplier, 100*c.Jitter, c.MaxMS, c.SpreadMS)
	b.WriteString("| registry | peak re-lists per ms, spread | peak per ms, backoff alone | ratio | re-lists between (spread) | between (backoff alone) |\n|---|---:|---:|---:|---|---|\n")
	for _, s := range f.Scenarios {
		ratio := "–"
		if s.Spread.PeakPerMS > 0 {
			ratio = fmt.Sprintf("%.1f×", float64(s.Backoff.PeakPerMS)/float64(s.Spread.PeakPerMS))
		}
		fmt.Fprintf(&b, "| back after %s | %d | %d | %s | %s | %s |\n", outageLabel(s.OutageMS), s.Spread.PeakPerMS, s.Backoff.PeakPerMS, ratio,
			span(s.Spread), span(s.Backoff))
	}
	b.WriteString("\n")
	if drawn {
		fmt.Fprintf(&b, "![re-lists per millisecond after a registry outage](%s)\n\n", PlotFile)
	}
	return b.String()
}

func outageLabel(ms float64) string {
	if ms == 0 {
		return "0 s (a restart)"
	}
	return fmt.Sprintf("%g s", ms/1000)
}

func span(o Outcome) string {
	return fmt.Sprintf("%.0f–%.0f ms", o.FirstMS, o.LastMS)
}
