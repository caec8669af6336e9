package zoneaware

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"
	"google.golang.org/grpc/status"

	_ "github.com/grpckit/grpckit/balancer/p2c" // a child policy
	_ "github.com/grpckit/grpckit/balancer/wrr" // a child policy
	"github.com/grpckit/grpckit/internal/testutil"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// stressNesting is one way to stack the two parents, with the configurations
// a run switches between.
type stressNesting struct {
	name   string
	parent string
	cfgs   []string
}

func outlierJSON(percent int, child string) string {
	return fmt.Sprintf(`{"consecutiveFailures":2,"failureRateThreshold":0.5,"failureRateMinRequests":4,
		"interval":"100ms","baseEjectionTime":"100ms","maxEjectionTime":"1s","maxEjectionPercent":%d,"childPolicy":[%s]}`, percent, child)
}

func zoneJSON(panic float64, child string) string {
	return fmt.Sprintf(`{"localZone":"a","panicThreshold":%v,"childPolicy":[%s]}`, panic, child)
}

var stressNestings = []stressNesting{
	{
		name:   "zoneaware{outlier{p2c}}",
		parent: Name,
		cfgs: []string{
			zoneJSON(0.5, `{"`+testOutlier+`":`+outlierJSON(50, `{"grpckit_p2c":{}}`)+`}`),
			zoneJSON(1, `{"`+testOutlier+`":`+outlierJSON(100, `{"grpckit_weighted_round_robin":{}}`)+`}`),
			zoneJSON(0, `{"`+testOutlier+`":`+outlierJSON(0, `{"round_robin":{}}`)+`}`),
			zoneJSON(0.5, `{"grpckit_p2c":{}}`),
		},
	},
	{
		name:   "outlier{zoneaware{wrr}}",
		parent: testOutlier,
		cfgs: []string{
			outlierJSON(50, `{"`+Name+`":`+zoneJSON(0.5, `{"grpckit_weighted_round_robin":{}}`)+`}`),
			outlierJSON(100, `{"`+Name+`":`+zoneJSON(1, `{"grpckit_p2c":{}}`)+`}`),
			outlierJSON(0, `{"`+Name+`":`+zoneJSON(0, `{"round_robin":{}}`)+`}`),
			outlierJSON(34, `{"grpckit_weighted_round_robin":{}}`),
		},
	},
}

// TestStressNestings drives both nestings of zoneaware and outlier through
// random sequences of resolver updates (endpoints coming and going, zones,
// weights, empty sets), configuration changes (child policy, panic threshold,
// maxEjectionPercent at 0 and 100), SubConn state changes, resolver errors and
// ExitIdle, while pickers are used from several goroutines whose RPCs fail on
// a third of the addresses, and the outlier clock jumps from another
// goroutine; then closes the policy while all that goes on. It checks that no
// call blocks, that every pick hands gRPC one of its own SubConns, that the
// zoneaware READY counts never go negative, and that nothing reaches gRPC
// after Close; -race and goleak check the rest.
func TestStressNestings(t *testing.T) {
	for _, n := range stressNestings {
		for seed := range uint64(3) {
			t.Run(fmt.Sprintf("%s/%d", n.name, seed), func(t *testing.T) { runStress(t, n, seed) })
		}
	}
}

// closeCheckingCC fails the test when gRPC hears from the policy after Close
// returned.
type closeCheckingCC struct {
	*testutil.BalancerClientConn
	closed atomic.Bool
	late   atomic.Int64
}

func (c *closeCheckingCC) UpdateState(s balancer.State) {
	if c.closed.Load() {
		c.late.Add(1)
	}
	c.BalancerClientConn.UpdateState(s)
}

func runStress(t *testing.T, n stressNesting, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 17))
	bb := balancer.Get(n.parent)
	var cfgs []serviceconfig.LoadBalancingConfig
	for _, js := range n.cfgs {
		cfg, err := bb.(balancer.ConfigParser).ParseConfig(json.RawMessage(js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		cfgs = append(cfgs, cfg)
	}
	cc := &closeCheckingCC{BalancerClientConn: testutil.NewBalancerClientConn()}
	b := bb.Build(cc, balancer.BuildOptions{})

	ctx, cancel := context.WithTimeout(context.Background(), 4*testutil.DefaultTimeout)
	defer cancel()
	var wg sync.WaitGroup
	var bad atomic.Value // first invariant broken off the test goroutine
	report := func(format string, args ...any) { bad.CompareAndSwap(nil, fmt.Sprintf(format, args...)) }
	stop := make(chan struct{})
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p := cc.LastState().Picker
				if p == nil {
					runtime.Gosched()
					continue
				}
				res, err := p.Pick(balancer.PickInfo{Ctx: ctx})
				if err != nil {
					if i%64 == 0 {
						runtime.Gosched()
					}
					continue
				}
				sc, ok := res.SubConn.(*testutil.SubConn)
				if !ok {
					report("goroutine %d picked a %T, not gRPC's SubConn, from %#v", g, res.SubConn, p)
					return
				}
				if res.Done != nil {
					var rpcErr error
					if addrNumber(sc.Addr())%3 == 0 {
						rpcErr = status.Error(codes.Unavailable, "down")
					}
					res.Done(balancer.DoneInfo{Err: rpcErr})
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // the outlier's timers
		defer wg.Done()
		steps := []time.Duration{0, time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, time.Second, time.Hour}
		r := rand.New(rand.NewPCG(seed, 18))
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			testClock.Advance(steps[r.IntN(len(steps))])
		}
	}()

	done := make(chan struct{})
	var steps []string
	go func() {
		defer close(done)
		cur := cfgs[0]
		states := scStates{}
		for step := range 300 {
			var did string
			switch r := rng.IntN(20); {
			case r < 3:
				did, _ = stressUpdate(b, cur, rng)
			case r < 4:
				cur = cfgs[rng.IntN(len(cfgs))]
				did, _ = stressUpdate(b, cur, rng)
				did = "config change, " + did
			case r < 12:
				did = states.transition(cc.BalancerClientConn, rng)
			case r < 15:
				states.allReady(cc.BalancerClientConn)
				did = "all READY"
			case r < 17:
				b.ResolverError(errors.New("registry unreachable"))
				did = "resolver error"
			default:
				b.ExitIdle()
				did = "ExitIdle"
			}
			steps = append(steps, fmt.Sprintf("%d: %s", step, did))
			if zb, ok := b.(*zoneBalancer); ok {
				zb.mu.Lock()
				for addr, st := range zb.endpoints {
					if st.ready < 0 {
						report("after step %d (%s): endpoint %s counts %d READY SubConns", step, did, addr, st.ready)
					}
				}
				zb.mu.Unlock()
			}
			if bad.Load() != nil {
				return
			}
		}
		// Close while pickers, RPC results and timers go on.
		b.Close()
		cc.closed.Store(true)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("the policy blocked; goroutines:\n%s", buf)
	}
	// Give late updates a chance to show, then stop.
	time.Sleep(20 * time.Millisecond)
	close(stop)
	wg.Wait()
	if v := bad.Load(); v != nil {
		t.Fatalf("%v\nsteps:\n%v", v, steps[max(len(steps)-20, 0):])
	}
	if n := cc.late.Load(); n > 0 {
		t.Fatalf("%d states reached gRPC after Close returned", n)
	}
}

// addrNumber is the n of an address 10.0.0.n:443.
func addrNumber(addr string) int {
	var n int
	fmt.Sscanf(addr, "10.0.0.%d:443", &n)
	return n
}

// stressUpdate sends a random subset of 9 addresses in zones a, b and c with
// weights 0 to 3; now and then an empty set.
func stressUpdate(b balancer.Balancer, cfg serviceconfig.LoadBalancingConfig, rng *rand.Rand) (string, error) {
	var insts []kitresolver.Instance
	if rng.IntN(10) != 0 {
		for n := range 9 {
			if rng.IntN(3) == 0 {
				continue
			}
			insts = append(insts, kitresolver.Instance{ID: fmt.Sprint(n), Addr: fmt.Sprintf("10.0.0.%d:443", n),
				Zone: string(rune('a' + rng.IntN(3))), Weight: uint32(rng.IntN(4))})
		}
	}
	err := b.UpdateClientConnState(balancer.ClientConnState{ResolverState: resolver.State{Endpoints: kitresolver.Endpoints(insts)}, BalancerConfig: cfg})
	return fmt.Sprintf("update of %d endpoints: %v", len(insts), err), err
}

// scStates is the state the test last gave each SubConn; they move only
// as gRPC moves them: IDLE → CONNECTING → READY or TRANSIENT_FAILURE (or
// IDLE), and from READY or TRANSIENT_FAILURE back to IDLE. (pick_first
// builds a picker without an error from a READY → TRANSIENT_FAILURE that
// gRPC never reports.)
type scStates map[*testutil.SubConn]connectivity.State

func (m scStates) live(cc *testutil.BalancerClientConn) []*testutil.SubConn {
	var live []*testutil.SubConn
	for _, sc := range cc.SubConns() {
		if !sc.IsShutdown() {
			live = append(live, sc)
		}
	}
	return live
}

func (m scStates) set(sc *testutil.SubConn, st connectivity.State) {
	sc.UpdateState(st)
	m[sc] = st
}

// transition moves a random live SubConn one step.
func (m scStates) transition(cc *testutil.BalancerClientConn, rng *rand.Rand) string {
	live := m.live(cc)
	if len(live) == 0 {
		return "no SubConn"
	}
	sc := live[rng.IntN(len(live))]
	var next connectivity.State
	switch m[sc] {
	case connectivity.Idle:
		next = connectivity.Connecting
	case connectivity.Connecting:
		next = []connectivity.State{connectivity.Ready, connectivity.TransientFailure, connectivity.Idle}[rng.IntN(3)]
	default:
		next = connectivity.Idle
	}
	m.set(sc, next)
	return fmt.Sprintf("%s %v", sc, next)
}

// allReady moves every live SubConn to READY the way gRPC would.
func (m scStates) allReady(cc *testutil.BalancerClientConn) {
	for _, sc := range m.live(cc) {
		switch m[sc] {
		case connectivity.Ready:
			continue
		case connectivity.TransientFailure:
			m.set(sc, connectivity.Idle)
		}
		if m[sc] == connectivity.Idle {
			m.set(sc, connectivity.Connecting)
		}
		m.set(sc, connectivity.Ready)
	}
}
