package overload

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The plots Plots draws, by file name.
const (
	PlotLoad    = "perf-overload.png"
	PlotHalving = "perf-overload-halving.png"
)

// Plots draws goodput and p99 against offered load, and the halving run's
// limit and goodput over time, into dir as PNG, and returns the files drawn.
func Plots(f *File, dir string) ([]string, error) {
	var drawn []string
	if len(f.Steps) > 0 {
		ps, err := loadPlots(f)
		if err != nil {
			return nil, err
		}
		if err := savePNG(filepath.Join(dir, PlotLoad), ps); err != nil {
			return nil, err
		}
		drawn = append(drawn, PlotLoad)
	}
	if f.Halving != nil {
		ps, err := halvingPlots(f.Halving)
		if err != nil {
			return nil, err
		}
		if err := savePNG(filepath.Join(dir, PlotHalving), ps); err != nil {
			return nil, err
		}
		drawn = append(drawn, PlotHalving)
	}
	return drawn, nil
}

func loadPlots(f *File) ([]*plot.Plot, error) {
	good, p99 := plot.New(), plot.New()
	good.Title.Text = "Goodput (OK within 1 s) against offered load"
	good.Y.Label.Text = "goodput (% of the measured capacity)"
	p99.Title.Text = "p99 latency of the calls not shed"
	p99.Y.Label.Text = "ms (log scale)"
	p99.Y.Scale, p99.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	for _, p := range []*plot.Plot{good, p99} {
		p.X.Label.Text = "offered load (× capacity, log scale)"
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, loadTicks(f.Config.Loads)
		p.Add(plotter.NewGrid())
		p.Legend.Top, p.Legend.Left = true, true
	}
	for i, prot := range Protections {
		var g, l plotter.XYs
		for _, s := range f.Steps {
			if s.Protection == prot {
				g = append(g, plotter.XY{X: s.Load, Y: 100 * s.GoodputShare})
				l = append(l, plotter.XY{X: s.Load, Y: max(s.P99, 0.01)})
			}
		}
		for _, pp := range []struct {
			p   *plot.Plot
			pts plotter.XYs
		}{{good, g}, {p99, l}} {
			if len(pp.pts) == 0 {
				continue
			}
			line, sc, err := plotter.NewLinePoints(pp.pts)
			if err != nil {
				return nil, fmt.Errorf("overload: %v", err)
			}
			line.Color, line.Dashes, line.Width = plotutil.Color(i), plotutil.Dashes(i), vg.Points(1.5)
			sc.Color, sc.Shape = plotutil.Color(i), plotutil.Shape(i)
			pp.p.Add(line, sc)
			pp.p.Legend.Add(prot, line, sc)
		}
	}
	good.Y.Min = 0
	good.Y.Max = max(good.Y.Max, 110)
	return []*plot.Plot{good, p99}, nil
}

// loadTicks marks the loads run.
func loadTicks(loads []float64) plot.ConstantTicks {
	var t plot.ConstantTicks
	for _, l := range loads {
		t = append(t, plot.Tick{Value: l, Label: fmt.Sprintf("%g×", l)})
	}
	return t
}

func halvingPlots(h *Halving) ([]*plot.Plot, error) {
	lim, good := plot.New(), plot.New()
	lim.Title.Text = "grpckit's admission rate; the handler's cost doubles at the line"
	lim.Y.Label.Text = "calls/s admitted (0: admitting all)"
	good.Title.Text = "Goodput and shed calls per 0.5 s"
	good.Y.Label.Text = "calls/s"
	var rate, gp, shed plotter.XYs
	for _, p := range h.Points {
		rate = append(rate, plotter.XY{X: p.T, Y: p.Rate})
	}
	for _, b := range h.Bins {
		gp = append(gp, plotter.XY{X: b.T + 0.25, Y: b.Goodput})
		shed = append(shed, plotter.XY{X: b.T + 0.25, Y: float64(b.Shed) / binLength.Seconds()})
	}
	for _, s := range []struct {
		p    *plot.Plot
		name string
		pts  plotter.XYs
		i    int
	}{{lim, "limit", rate, 3}, {good, "goodput", gp, 0}, {good, "shed", shed, 1}} {
		if len(s.pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(s.pts)
		if err != nil {
			return nil, fmt.Errorf("overload: %v", err)
		}
		l.Color, l.Width = plotutil.Color(s.i), vg.Points(1.5)
		s.p.Add(l)
		s.p.Legend.Add(s.name, l)
	}
	for _, p := range []*plot.Plot{lim, good} {
		p.X.Label.Text = "seconds"
		p.Add(plotter.NewGrid())
		p.Y.Min = 0
		p.Legend.Top = true
		sw, err := plotter.NewLine(plotter.XYs{{X: h.SwitchAt, Y: 0}, {X: h.SwitchAt, Y: p.Y.Max}})
		if err != nil {
			return nil, fmt.Errorf("overload: %v", err)
		}
		sw.Color, sw.Dashes = color.Gray{Y: 100}, []vg.Length{vg.Points(4), vg.Points(4)}
		p.Add(sw)
	}
	return []*plot.Plot{lim, good}, nil
}

// savePNG draws ps side by side into path, 6 inches wide each.
func savePNG(path string, ps []*plot.Plot) error {
	img := vgimg.NewWith(vgimg.UseWH(vg.Length(len(ps))*6*vg.Inch, 4*vg.Inch), vgimg.UseDPI(110))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(ps), PadX: vg.Millimeter * 4}
	canvases := plot.Align([][]*plot.Plot{ps}, tiles, dc)
	for i, p := range ps {
		p.Draw(canvases[0][i])
	}
	out, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("overload: %v", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(out); err != nil {
		out.Close()
		return fmt.Errorf("overload: %s: %v", path, err)
	}
	return out.Close()
}

// Markdown returns the Overload section of docs/PERFORMANCE.md for f, with
// the plots Plots drew (file names relative to the document).
func Markdown(f *File, plots []string) string {
	var b strings.Builder
	c := f.Config
	fmt.Fprintf(&b, "## Overload\n\n")
	fmt.Fprintf(&b, "A greeter whose handler does %v of CPU work per call, in its own process, driven open loop (Poisson arrivals) at %s its capacity with %v deadlines, behind each protection in turn, %v per step of which the first %v is left out. ",
		c.Cost, loadList(c.Loads), c.Deadline, c.Step, c.Warmup)
	fmt.Fprintf(&b, "The capacity is measured just before each load by %d closed-loop callers against the unprotected server (first: %.0f calls/s, p50 %.2f ms, p99 %.2f ms). ",
		f.Capacity.Callers, f.Capacity.Rate, f.Capacity.P50, f.Capacity.P99)
	b.WriteString("The token bucket is set to that capacity with a burst of 20 ms of it, the best a person could tune; aegis BBR (go-kratos/aegis v0.2.0) runs with its defaults; grpckit's limiter (interceptor/shedding) has nothing to configure. ")
	b.WriteString("Goodput is the calls answered OK within their deadline, as a share of the capacity; p50 and p99 are of the calls not shed (OK, late or failed). ")
	b.WriteString("Goals: at 2× and 4×, goodput ≥ 90 % and p99 ≤ 2× the 0.5× p99, with no configuration; at 0.5×, nothing shed. ")
	fmt.Fprintf(&b, "Load generator and server share the machine's %d cores", f.Cores)
	if f.LoadBefore != "" {
		fmt.Fprintf(&b, "; its load averages (1, 5, 15 min) were %s when the run started and %s when it ended", f.LoadBefore, f.LoadAfter)
	}
	b.WriteString(".\n\n")
	b.WriteString("| protection | load | capacity (calls/s) | offered (calls/s) | goodput | shed | late | p50 (ms) | p99 (ms) | p99 / p99 at 0.5× |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	base := map[string]float64{}
	for _, s := range f.Steps {
		if s.Load == c.Loads[0] {
			base[s.Protection] = s.P99
		}
	}
	for _, s := range f.Steps {
		ratio := "–"
		if b0 := base[s.Protection]; b0 > 0 {
			ratio = fmt.Sprintf("%.1f×", s.P99/b0)
		}
		fmt.Fprintf(&b, "| %s | %g× | %.0f | %.0f | %.0f %% | %d | %d | %.2f | %.2f | %s |\n",
			s.Protection, s.Load, s.Capacity, s.Offered, 100*s.GoodputShare, s.Shed, s.Late, s.P50, s.P99, ratio)
	}
	b.WriteString("\n")
	if has(plots, PlotLoad) {
		fmt.Fprintf(&b, "![goodput and p99 against offered load](%s)\n\n", PlotLoad)
	}
	if h := f.Halving; h != nil {
		b.WriteString("### Capacity halving\n\n")
		conv := "never, within the run"
		if h.ConvergedAfter >= 0 {
			conv = fmt.Sprintf("%.1f s after the switch, and stays there %.0f %% of the time from then on", h.ConvergedAfter, 100*h.InBand)
		}
		fmt.Fprintf(&b, "grpckit's limiter at %.0f calls/s offered (2× the first capacity) for %.0f s; at %.1f s the handler's cost doubles, halving the capacity. ",
			h.Offered, c.Halving.Seconds(), h.SwitchAt)
		fmt.Fprintf(&b, "Half the limit's median over the two seconds before the switch is %.0f calls/s, where a limit that follows the capacity should go; the limit's median over the trailing second comes within ±%.0f %% of it %s (its median over the last third: %.0f calls/s). ",
			h.Target, 100*h.Band, conv, h.SettledRate)
		fmt.Fprintf(&b, "Goodput: %.0f %% of the capacity in the second before the switch, %.0f %% of half of it over the last third.\n\n",
			100*h.GoodputBefore, 100*h.GoodputAfter)
		if has(plots, PlotHalving) {
			fmt.Fprintf(&b, "![limit and goodput over time, capacity halving midway](%s)\n\n", PlotHalving)
		}
	}
	return b.String()
}

func loadList(loads []float64) string {
	s := make([]string, len(loads))
	for i, l := range loads {
		s[i] = fmt.Sprintf("%g×", l)
	}
	return strings.Join(s, ", ")
}

func has(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
