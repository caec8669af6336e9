package overload

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
)

// Config is an overload run.
type Config struct {
	Cost     time.Duration // CPU work of one call
	Measure  time.Duration // how long each capacity measurement runs
	Loads    []float64     // offered loads, as multiples of the measured capacity
	Warmup   time.Duration // the start of each step, left out of its figures
	Step     time.Duration // how long each protection runs at each load, warmup included
	Deadline time.Duration // every call's deadline
	// Halving is how long the capacity-halving run lasts; the cost doubles
	// at a third of it. 0 skips that run.
	Halving time.Duration
}

// DefaultConfig is the run of scripts/bench.sh: about two minutes.
var DefaultConfig = Config{
	Cost:     2 * time.Millisecond,
	Measure:  2 * time.Second,
	Loads:    []float64{0.5, 1, 2, 4},
	Warmup:   time.Second,
	Step:     4 * time.Second,
	Deadline: time.Second,
	Halving:  15 * time.Second,
}

// File is what bench/cmd/overload writes.
type File struct {
	Config Config
	// Cores is GOMAXPROCS; LoadBefore and LoadAfter are the machine's load
	// averages (1, 5 and 15 minutes, from /proc/loadavg) when the run
	// started and ended, to tell a quiet run from a busy one.
	Cores                 int
	LoadBefore, LoadAfter string `json:",omitempty"`
	// Capacity is the first capacity measured, which the halving run is
	// driven from; each load's steps measure it again first, as the
	// machine's other load changes it (Step.Capacity).
	Capacity Capacity
	Steps    []Step
	Halving  *Halving `json:",omitempty"`
}

// Capacity is what the unprotected server did under a closed loop of
// callers, enough to keep every core busy.
type Capacity struct {
	Callers int
	Rate    float64 // successful calls per second
	// P50 and P99 are the latencies of those calls, in milliseconds.
	P50, P99 float64
}

// Step is one protection at one load.
type Step struct {
	Protection string
	Load       float64 // offered load, a multiple of the capacity
	Capacity   float64 // the capacity measured just before this load's steps, in calls per second
	Offered    float64 // calls sent per second
	Sent       int     // calls sent after the warmup
	OK         int     // of those, answered within their deadline
	Shed       int     // refused with codes.ResourceExhausted
	Late       int     // failed with codes.DeadlineExceeded
	Other      int     // failed otherwise
	Goodput    float64 // OK calls per second
	// GoodputShare is Goodput over the measured capacity.
	GoodputShare float64
	// P50 and P99 are latencies of the calls not shed (answered, late or
	// failed), in milliseconds.
	P50, P99 float64
}

// Run measures the capacity, then runs every protection at every load, and
// the halving run if cfg asks for it.
func Run(ctx context.Context, cfg Config) (*File, error) {
	runtime.GC()
	chunk := calibrate(50 * time.Microsecond)
	iters := chunk * int64(cfg.Cost/(50*time.Microsecond))
	f := &File{Config: cfg, Cores: runtime.GOMAXPROCS(0), LoadBefore: loadAverage()}
	defer func() { f.LoadAfter = loadAverage() }()
	var err error
	if f.Capacity, err = measureCapacity(ctx, cfg.Measure, iters, chunk); err != nil {
		return nil, err
	}
	// One server per protection for the whole run, as a server in service
	// runs through changes of load: aegis BBR's CPU reading, for one, is an
	// average that takes seconds to warm up in a new process.
	servers := make(map[string]*child, len(Protections))
	defer func() {
		for _, ch := range servers {
			ch.stop()
		}
	}()
	for _, p := range Protections {
		if servers[p], err = startChild(p, iters, chunk, f.Capacity.Rate); err != nil {
			return nil, err
		}
	}
	for i, load := range cfg.Loads {
		capacity := f.Capacity
		if i > 0 {
			if capacity, err = measureCapacity(ctx, cfg.Measure, iters, chunk); err != nil {
				return nil, err
			}
		}
		// The protections take turns, starting with another one at each load.
		for j := range Protections {
			p := Protections[(i+j)%len(Protections)]
			st, err := runStep(ctx, cfg, servers[p], load, capacity.Rate)
			if err != nil {
				return nil, err
			}
			st.Protection = p
			f.Steps = append(f.Steps, st)
		}
	}
	slices.SortStableFunc(f.Steps, func(a, b Step) int {
		return slices.Index(Protections, a.Protection) - slices.Index(Protections, b.Protection)
	})
	if cfg.Halving > 0 {
		if f.Halving, err = runHalving(ctx, cfg, f.Capacity.Rate, iters, chunk); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// dial connects to addr and returns a client and a function closing it.
func dial(addr string) (greeterv1.GreeterClient, func(), error) {
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, err
	}
	return greeterv1.NewGreeterClient(cc), func() { _ = cc.Close() }, nil
}

// target starts a server behind protection in a child process and returns
// it, a client connected to it and a function stopping both.
func target(protection string, iters, chunk int64, capacity float64) (*child, greeterv1.GreeterClient, func(), error) {
	ch, err := startChild(protection, iters, chunk, capacity)
	if err != nil {
		return nil, nil, nil, err
	}
	c, closeConn, err := dial(ch.addr)
	if err != nil {
		ch.stop()
		return nil, nil, nil, err
	}
	return ch, c, func() { closeConn(); ch.stop() }, nil
}

func measureCapacity(ctx context.Context, d time.Duration, iters, chunk int64) (Capacity, error) {
	_, c, stop, err := target(None, iters, chunk, 0)
	if err != nil {
		return Capacity{}, err
	}
	defer stop()
	n := 4 * runtime.GOMAXPROCS(0)
	closedLoop(ctx, c, n, d/4) // warm up
	r, lats := closedLoop(ctx, c, n, d)
	if r == 0 {
		return Capacity{}, fmt.Errorf("overload: no call succeeded while measuring the capacity")
	}
	slices.Sort(lats)
	return Capacity{Callers: n, Rate: r, P50: ms(percentile(lats, 0.5)), P99: ms(percentile(lats, 0.99))}, nil
}

// runStep drives the server of ch at load times capacity, retuning its
// token bucket, if it has one, to capacity first.
func runStep(ctx context.Context, cfg Config, ch *child, load, capacity float64) (Step, error) {
	if err := ch.setRate(capacity); err != nil {
		return Step{}, err
	}
	c, closeConn, err := dial(ch.addr)
	if err != nil {
		return Step{}, err
	}
	defer closeConn()
	offered := load * capacity
	calls := drive(ctx, c, func(time.Duration) float64 { return offered }, cfg.Step, cfg.Deadline, uint64(load*1000))
	st := summarize(calls, cfg.Warmup, cfg.Step, capacity)
	st.Load, st.Capacity = load, capacity
	return st, ctx.Err()
}

// summarize sums up the calls sent in [from, to).
func summarize(calls []call, from, to time.Duration, capacity float64) Step {
	var st Step
	var lats []time.Duration
	for _, c := range calls {
		if c.at < from || c.at >= to {
			continue
		}
		st.Sent++
		switch c.code {
		case codes.OK:
			st.OK++
		case codes.ResourceExhausted:
			st.Shed++
			continue
		case codes.DeadlineExceeded:
			st.Late++
		default:
			st.Other++
		}
		lats = append(lats, c.latency)
	}
	secs := (to - from).Seconds()
	st.Offered = float64(st.Sent) / secs
	st.Goodput = float64(st.OK) / secs
	st.GoodputShare = st.Goodput / capacity
	slices.Sort(lats)
	st.P50, st.P99 = ms(percentile(lats, 0.5)), ms(percentile(lats, 0.99))
	return st
}

// percentile returns the q-quantile of sorted (nearest rank), 0 for none.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := min(int(q*float64(len(sorted))), len(sorted)-1)
	return sorted[i]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// loadAverage returns the machine's load averages, or "" where there is no
// /proc/loadavg.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
