package overload

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"
)

// Halving is the run where the handler's cost doubles midway: grpckit's
// limiter at twice the first capacity, which is four times the second.
type Halving struct {
	Offered  float64 // calls sent per second
	SwitchAt float64 // when the cost doubled, in seconds since the start
	// Target is half the limit's median over the two seconds before the
	// switch; ConvergedAfter is how long after the switch the limit's median
	// over the trailing second first came within ±Band of it, in seconds (-1:
	// never), and InBand the share of the time from then on that it stayed
	// there. SettledRate is the limit's median over the last third of the
	// run.
	Target         float64
	Band           float64
	ConvergedAfter float64
	InBand         float64
	SettledRate    float64
	// GoodputBefore and GoodputAfter are the goodputs of the second before
	// the switch and of the last third of the run, as shares of the
	// capacity then (the measured one, and half of it).
	GoodputBefore, GoodputAfter float64
	Points                      []Point // the limiter every 100 ms
	Bins                        []Bin   // the calls per 500 ms
}

// Point is grpckit's limiter at one time.
type Point struct {
	T          float64 // seconds since the start
	Rate       float64 // calls per second admitted; 0 while not shedding
	QueueDelay float64 // ms
	Latency    float64 // ms
	Overloaded bool
}

// Bin sums up the calls sent in [T, T+0.5 s).
type Bin struct {
	T        float64
	Goodput  float64 // OK calls per second
	Shed     int
	Late     int
	P99      float64 // ms, of the calls not shed
	Accepted int
}

const (
	binLength  = 500 * time.Millisecond
	sampleStep = 100 * time.Millisecond
	band       = 0.25
)

func runHalving(ctx context.Context, cfg Config, capacity float64, iters, chunk int64) (*Halving, error) {
	ch, c, stop, err := target(Grpckit, iters, chunk, capacity)
	if err != nil {
		return nil, err
	}
	defer stop()
	h := &Halving{Offered: 2 * capacity, SwitchAt: (cfg.Halving / 3).Seconds(), Band: band}
	switchAt := cfg.Halving / 3
	timer := time.AfterFunc(switchAt, func() { _ = ch.double() })
	defer timer.Stop()
	pts, stopSampling := sample(ch)
	calls := drive(ctx, c, func(time.Duration) float64 { return h.Offered }, cfg.Halving, cfg.Deadline, 7)
	h.Points = stopSampling()
	h.Bins = bins(calls, cfg.Halving, capacity)
	h.Settle(pts(), cfg.Halving)
	before := summarize(calls, switchAt-time.Second, switchAt, capacity)
	after := summarize(calls, cfg.Halving*2/3, cfg.Halving, capacity/2)
	h.GoodputBefore, h.GoodputAfter = before.GoodputShare, after.GoodputShare
	return h, ctx.Err()
}

// sample records the limiter of ch's server every sampleStep until the
// returned stop is called, which returns the points.
func sample(ch *child) (func() []Point, func() []Point) {
	var (
		mu  sync.Mutex
		pts []Point
	)
	start := time.Now()
	t := time.NewTicker(sampleStep)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			st, err := ch.stats()
			if err != nil {
				return
			}
			mu.Lock()
			pts = append(pts, Point{T: time.Since(start).Seconds(), Rate: st.Rate, QueueDelay: ms(st.QueueDelay), Latency: ms(st.Latency), Overloaded: st.Overloaded})
			mu.Unlock()
		}
	})
	get := func() []Point {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(pts)
	}
	return get, func() []Point { close(done); wg.Wait(); return get() }
}

// Settle measures how the limit followed the halving. Target is half the
// limit's median over the two seconds before the switch: where a limit that
// follows the capacity should go. ConvergedAfter is when, after the switch,
// the limit first came within ±band of it, and InBand how much of the time
// from then on it stayed there; the limit is taken as its median over the
// trailing second (smoothWindow points), which smooths out the single
// windows in which a pause of the machine reads as overload. SettledRate is
// the limit's median over the last third of the run. It works from the
// points, SwitchAt and the run's length d alone, so a report can redo it.
func (h *Halving) Settle(pts []Point, d time.Duration) {
	h.ConvergedAfter = -1
	var before, last []float64
	for _, p := range pts {
		if p.T >= h.SwitchAt-2 && p.T < h.SwitchAt {
			before = append(before, p.Rate)
		}
		if p.T >= (d * 2 / 3).Seconds() {
			last = append(last, p.Rate)
		}
	}
	if len(last) > 0 {
		h.SettledRate = median(last)
	}
	if len(before) == 0 || median(before) <= 0 {
		return
	}
	h.Target = median(before) / 2
	var in, after int
	for i, p := range pts {
		if p.T < h.SwitchAt {
			continue
		}
		var recent []float64
		for _, q := range pts[max(i+1-smoothWindow, 0) : i+1] {
			recent = append(recent, q.Rate)
		}
		ok := math.Abs(median(recent)-h.Target) <= band*h.Target
		if ok && h.ConvergedAfter < 0 {
			h.ConvergedAfter = p.T - h.SwitchAt
		}
		if h.ConvergedAfter >= 0 {
			after++
			if ok {
				in++
			}
		}
	}
	if after > 0 {
		h.InBand = float64(in) / float64(after)
	}
}

// smoothWindow is how many points settle takes the median of: a second.
const smoothWindow = int(time.Second / sampleStep)

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// bins sums up the calls per binLength.
func bins(calls []call, d time.Duration, capacity float64) []Bin {
	var out []Bin
	for from := time.Duration(0); from < d; from += binLength {
		st := summarize(calls, from, from+binLength, capacity)
		out = append(out, Bin{T: from.Seconds(), Goodput: st.Goodput, Shed: st.Shed, Late: st.Late, P99: st.P99, Accepted: st.Sent - st.Shed})
	}
	return out
}
