package report

import (
	"fmt"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/grpckit/grpckit/bench/lbsim"
	"github.com/grpckit/grpckit/bench/relist"
)

// Plots draws every plot it has data for into dir as PNG and returns the
// file names drawn.
func Plots(dir string, in *Inputs) ([]string, error) {
	var drawn []string
	for _, p := range []struct {
		file string
		make func(*Inputs) ([]*plot.Plot, error)
	}{
		{PlotCDFSim, func(in *Inputs) ([]*plot.Plot, error) { return cdfPlots("simulation", in.Sim) }},
		{PlotCDFLoopback, func(in *Inputs) ([]*plot.Plot, error) { return cdfPlots("loopback run", in.Loopback) }},
		{PlotShare, sharePlot},
		{PlotPickCost, pickCostPlot},
		{relist.PlotFile, func(in *Inputs) ([]*plot.Plot, error) {
			if in.Relist == nil {
				return nil, nil
			}
			return relist.Plots(in.Relist)
		}},
	} {
		ps, err := p.make(in)
		if err != nil {
			return nil, err
		}
		if ps == nil {
			continue
		}
		if err := savePNG(filepath.Join(dir, p.file), ps); err != nil {
			return nil, err
		}
		drawn = append(drawn, p.file)
	}
	ps, err := overloadPlots(dir, in)
	if err != nil {
		return nil, err
	}
	return append(drawn, ps...), nil
}

// savePNG draws ps side by side into path: 6 inches wide each, 9 for a
// single plot.
func savePNG(path string, ps []*plot.Plot) error {
	w, h := vg.Length(len(ps))*6*vg.Inch, 4*vg.Inch
	if len(ps) == 1 {
		w = 9 * vg.Inch
	}
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(110))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(ps), PadX: vg.Millimeter * 4}
	canvases := plot.Align([][]*plot.Plot{ps}, tiles, dc)
	for i, p := range ps {
		p.Draw(canvases[0][i])
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("report: %v", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("report: %s: %v", path, err)
	}
	return f.Close()
}

// cdfPlots draws the latency CDF of each policy: whole, and its tail.
func cdfPlots(mode string, rs map[string]lbsim.Result) ([]*plot.Plot, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	whole, tail := plot.New(), plot.New()
	whole.Title.Text = "Latency CDF, one backend 10× slow (" + mode + ")"
	tail.Title.Text = "Tail: 95th percentile and up"
	for _, p := range []*plot.Plot{whole, tail} {
		p.X.Label.Text = "latency (ms, log scale)"
		p.Y.Label.Text = "fraction of requests"
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		p.Add(plotter.NewGrid())
		p.Legend.Top, p.Legend.Left = false, false
	}
	for i, pol := range lbsim.Policies {
		r, ok := rs[pol.Label]
		if !ok || len(r.Quantiles) < 2 {
			continue
		}
		pts := cdfPoints(r.Quantiles)
		for _, p := range []*plot.Plot{whole, tail} {
			l, err := plotter.NewLine(pts)
			if err != nil {
				return nil, fmt.Errorf("report: %v", err)
			}
			l.Color, l.Dashes, l.Width = plotutil.Color(i), plotutil.Dashes(i), vg.Points(1.5)
			p.Add(l)
			p.Legend.Add(pol.Label, l)
		}
	}
	tail.Y.Min, tail.Y.Max = 0.95, 1 // after Add, which widens the axes to the data
	return []*plot.Plot{whole, tail}, nil
}

// cdfPoints turns quantiles at evenly spaced levels into CDF points.
func cdfPoints(q []float64) plotter.XYs {
	pts := make(plotter.XYs, len(q))
	for i, v := range q {
		pts[i] = plotter.XY{X: max(v, 1e-3), Y: float64(i) / float64(len(q)-1)}
	}
	return pts
}

// sharePlot draws each backend's share of the simulation's requests, a
// group of bars per backend, one bar per policy.
func sharePlot(in *Inputs) ([]*plot.Plot, error) {
	if len(in.Sim) == 0 {
		return nil, nil
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Share of requests per backend (simulation; backend %d is slow for a third of the run)", lbsim.Default.Slow)
	p.Y.Label.Text = "share of requests (%)"
	p.X.Label.Text = "backend"
	p.Add(plotter.NewGrid())
	w := vg.Points(9)
	n := 0
	for i, pol := range lbsim.Policies {
		r, ok := in.Sim[pol.Label]
		if !ok {
			continue
		}
		bars, err := plotter.NewBarChart(shares(r.Served), w)
		if err != nil {
			return nil, fmt.Errorf("report: %v", err)
		}
		bars.Color, bars.LineStyle.Width = plotutil.Color(i), 0
		bars.Offset = vg.Length(n-len(lbsim.Policies)/2) * w
		p.Add(bars)
		p.Legend.Add(pol.Label, bars)
		n++
	}
	names := make([]string, lbsim.Default.Backends)
	for i := range names {
		names[i] = fmt.Sprint(i)
	}
	p.NominalX(names...)
	p.Legend.Top = true
	p.Y.Min = 0
	p.Y.Max *= 1.6 // room for the legend above the bars
	return []*plot.Plot{p}, nil
}

// shares returns each count's share of the total, in percent.
func shares(counts []int) plotter.Values {
	total := 0
	for _, c := range counts {
		total += c
	}
	out := make(plotter.Values, len(counts))
	for i, c := range counts {
		if total > 0 {
			out[i] = 100 * float64(c) / float64(total)
		}
	}
	return out
}

// pickCostPlot draws each policy's median pick time against endpoints, one
// plot per -cpu value.
func pickCostPlot(in *Inputs) ([]*plot.Plot, error) {
	var out []*plot.Plot
	for _, cpu := range pickCPUs {
		p, err := pickCostPlotCPU(in, cpu)
		if err != nil {
			return nil, err
		}
		if p != nil {
			out = append(out, p)
		}
	}
	return out, nil
}

func pickCostPlotCPU(in *Inputs, cpu int) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Pick cost against endpoint count (RunParallel, -cpu %d)", cpu)
	p.X.Label.Text = "endpoints (log scale)"
	p.Y.Label.Text = "ns per pick (log scale)"
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	any := false
	for i, s := range pickSeries {
		var pts plotter.XYs
		for _, n := range pickSizes {
			if st, ok := in.Bench.Stat(s.key(n, cpu), "ns/op"); ok && st.Median > 0 {
				pts = append(pts, plotter.XY{X: float64(n), Y: st.Median})
			}
		}
		if len(pts) == 0 {
			continue
		}
		l, sc, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, fmt.Errorf("report: %v", err)
		}
		l.Color, l.Dashes, l.Width = plotutil.Color(i), plotutil.Dashes(i), vg.Points(1.5)
		sc.Color, sc.Shape = plotutil.Color(i), plotutil.Shape(i)
		p.Add(l, sc)
		p.Legend.Add(s.Label, l, sc)
		any = true
	}
	if !any {
		return nil, nil
	}
	p.X.Min, p.X.Max = 7, 1400
	p.Y.Max *= 10 // room for the legend above the lines (log scale)
	return p, nil
}
