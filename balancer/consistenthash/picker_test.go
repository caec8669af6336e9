package consistenthash

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// testSubConn names the endpoint a fake child picker picked.
type testSubConn struct {
	balancer.SubConn
	i int
}

type childPicker struct {
	i   int
	err error
	sc  balancer.SubConn // testSubConn{i}, boxed once so that Pick does not allocate
}

func (c childPicker) Pick(balancer.PickInfo) (balancer.PickResult, error) {
	if c.err != nil {
		return balancer.PickResult{}, c.err
	}
	if c.sc != nil {
		return balancer.PickResult{SubConn: c.sc}, nil
	}
	return balancer.PickResult{SubConn: testSubConn{i: c.i}}, nil
}

var errChildFailed = errors.New("child failed")

// newTestPicker returns a picker over r with every endpoint READY.
func newTestPicker(r *table, cfg LBConfig) *picker {
	p := &picker{table: r, eps: make([]pickEndpoint, len(r.eps)), header: cfg.HashHeader,
		failNoKey: cfg.MissingKey == MissingKeyFail, loadFactor: cfg.LoadFactor, inflight: new(atomic.Int64)}
	for i := range p.eps {
		p.eps[i] = pickEndpoint{picker: childPicker{i: i, sc: testSubConn{i: i}}, weight: float64(r.eps[i].weight), load: newLoad(p.inflight)}
		p.setReady(i, true)
	}
	return p
}

func (p *picker) setReady(i int, ready bool) {
	if p.eps[i].ready == ready {
		return
	}
	p.eps[i].ready = ready
	if ready {
		p.ready, p.readyW = p.ready+1, p.readyW+p.eps[i].weight
	} else {
		p.ready, p.readyW = p.ready-1, p.readyW-p.eps[i].weight
	}
	p.state = connectivity.Ready
}

func pickIndex(t *testing.T, p *picker, ctx context.Context) (int, balancer.PickResult) {
	t.Helper()
	res, err := p.Pick(balancer.PickInfo{Ctx: ctx})
	if err != nil {
		t.Fatalf("Pick: %v", err)
	}
	return res.SubConn.(testSubConn).i, res
}

func keyContexts(n int) []context.Context {
	ctxs := make([]context.Context, n)
	for i := range ctxs {
		ctxs[i] = WithKey(context.Background(), fmt.Sprintf("user-%d", i))
	}
	return ctxs
}

// TestPickerFlap checks that keys of an endpoint that goes down move to other
// READY endpoints, that no other key moves, and that they come back.
func TestPickerFlap(t *testing.T) {
	p := newTestPicker(newTable(testEndpoints(100), DefaultRingSize), LBConfig{})
	ctxs := keyContexts(10_000)
	owners := make([]int, len(ctxs))
	for k, ctx := range ctxs {
		owners[k], _ = pickIndex(t, p, ctx)
	}
	const down = 7
	p.setReady(down, false)
	moved := 0
	for k, ctx := range ctxs {
		got, _ := pickIndex(t, p, ctx)
		switch {
		case got == down:
			t.Fatalf("key %d went to endpoint %d, which is not READY", k, down)
		case owners[k] != down && got != owners[k]:
			t.Fatalf("key %d moved from %d to %d while only %d went down", k, owners[k], got, down)
		case owners[k] == down:
			moved++
		}
	}
	if moved == 0 {
		t.Fatalf("endpoint %d owned no keys; the test proves nothing", down)
	}
	p.setReady(down, true)
	for k, ctx := range ctxs {
		if got, _ := pickIndex(t, p, ctx); got != owners[k] {
			t.Fatalf("key %d went to %d after the flap, want %d", k, got, owners[k])
		}
	}
}

// TestPickerBounded holds 100k requests in flight and checks that no endpoint
// takes more than loadFactor times the mean, then that Done releases them.
func TestPickerBounded(t *testing.T) {
	ctxs := keyContexts(100_000)
	for _, n := range []int{10, 100, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			p := newTestPicker(newTable(testEndpoints(n), DefaultRingSize), LBConfig{LoadFactor: 1.25})
			var dones []func(balancer.DoneInfo)
			counts := make([]int, n)
			for _, ctx := range ctxs {
				i, res := pickIndex(t, p, ctx)
				counts[i]++
				dones = append(dones, res.Done)
			}
			mean := float64(len(ctxs)) / float64(n)
			for i, c := range counts {
				if float64(c) > 1.25*mean {
					t.Errorf("endpoint %d holds %d requests, mean %.0f: max/mean %.3f > 1.25", i, c, mean, float64(c)/mean)
				}
				if got := p.eps[i].load.n.Load(); got != int64(c) {
					t.Errorf("endpoint %d load = %d, want %d", i, got, c)
				}
			}
			for _, d := range dones {
				d(balancer.DoneInfo{})
			}
			if got := p.inflight.Load(); got != 0 {
				t.Errorf("in flight after every Done = %d, want 0", got)
			}
		})
	}
}

// TestPickerBoundedAffinity checks that bounded loads keep affinity while
// nothing is over its bound.
func TestPickerBoundedAffinity(t *testing.T) {
	r := newTable(testEndpoints(20), DefaultRingSize)
	bounded, plain := newTestPicker(r, LBConfig{LoadFactor: 1.25}), newTestPicker(r, LBConfig{})
	for k, ctx := range keyContexts(1000) {
		got, res := pickIndex(t, bounded, ctx)
		want, _ := pickIndex(t, plain, ctx)
		if got != want {
			t.Fatalf("key %d: bounded picked %d with nothing in flight, unbounded %d", k, got, want)
		}
		res.Done(balancer.DoneInfo{})
	}
}

func TestPickerKeys(t *testing.T) {
	p := newTestPicker(newTable(testEndpoints(50), DefaultRingSize), LBConfig{HashHeader: "x-user-id"})
	for k := range 200 {
		key := fmt.Sprintf("user-%d", k)
		viaKey, _ := pickIndex(t, p, WithKey(context.Background(), key))
		viaHeader, _ := pickIndex(t, p, metadata.AppendToOutgoingContext(context.Background(), "X-User-Id", key))
		viaMD, _ := pickIndex(t, p, metadata.NewOutgoingContext(context.Background(), metadata.Pairs("x-user-id", key)))
		if viaKey != viaHeader || viaKey != viaMD {
			t.Fatalf("key %q: WithKey picked %d, header %d, metadata %d; want the same", key, viaKey, viaHeader, viaMD)
		}
	}
	other, _ := pickIndex(t, p, WithKey(context.Background(), "user-0"))
	ctx := metadata.AppendToOutgoingContext(WithKey(context.Background(), "user-0"), "x-user-id", "someone-else")
	if got, _ := pickIndex(t, p, ctx); got != other {
		t.Errorf("WithKey and a header: picked %d, want %d (WithKey wins)", got, other)
	}
}

func TestPickerMissingKey(t *testing.T) {
	r := newTable(testEndpoints(10), DefaultRingSize)
	fail := newTestPicker(r, LBConfig{HashHeader: "x-user-id", MissingKey: MissingKeyFail})
	_, err := fail.Pick(balancer.PickInfo{Ctx: context.Background()})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("Pick without a key, missingKey fail: %v, want InvalidArgument", err)
	}
	random := newTestPicker(r, LBConfig{HashHeader: "x-user-id", MissingKey: MissingKeyRandom})
	random.setReady(3, false)
	seen := map[int]bool{}
	for range 1000 {
		i, _ := pickIndex(t, random, context.Background())
		if i == 3 {
			t.Fatalf("random pick went to endpoint 3, which is not READY")
		}
		seen[i] = true
	}
	if len(seen) != 9 {
		t.Errorf("1000 random picks reached %d endpoints, want all 9 READY ones", len(seen))
	}
}

// TestPickerNotReady checks the Picker contract with no READY endpoint.
func TestPickerNotReady(t *testing.T) {
	r := newTable(testEndpoints(3), MinRingSize)
	p := newTestPicker(r, LBConfig{})
	for i := range p.eps {
		p.setReady(i, false)
		p.eps[i].picker = childPicker{i: i, err: errChildFailed}
	}
	ctx := WithKey(context.Background(), "k")
	p.state = connectivity.Connecting
	if _, err := p.Pick(balancer.PickInfo{Ctx: ctx}); err != balancer.ErrNoSubConnAvailable {
		t.Errorf("CONNECTING: Pick error = %v, want ErrNoSubConnAvailable", err)
	}
	p.state = connectivity.TransientFailure
	if _, err := p.Pick(balancer.PickInfo{Ctx: ctx}); err != errChildFailed {
		t.Errorf("TRANSIENT_FAILURE: Pick error = %v, want the owner's error", err)
	}
}

func TestHashValues(t *testing.T) {
	if hashValues([]string{"a", "b"}) != hashString("a,b") {
		t.Error(`hashValues([a b]) != hashString("a,b")`)
	}
	if hashString("a") == hashString("b") {
		t.Error("hashString(a) == hashString(b)")
	}
}

// TestPickerFallback checks the fallback for keys whose owner is not READY:
// the weight-class shortcut picks what comparing every endpoint's score
// picks, only READY endpoints win, and wins follow the weights.
func TestPickerFallback(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 2))
	for round := range 20 {
		eps := testEndpoints(1 + rng.IntN(40))
		for i := range eps {
			eps[i].weight = 1 + uint32(rng.IntN(1+round%4*3))
		}
		p := newTestPicker(newTable(eps, MinRingSize), LBConfig{})
		for i := range p.eps {
			p.setReady(i, rng.IntN(4) > 0)
		}
		wins := make([]float64, len(eps))
		for range 20_000 {
			h := rng.Uint64()
			got, want := p.fallback(h), p.fallbackEach(h)
			if got != want {
				t.Fatalf("round %d: fallback(%x) = %d, comparing every score gives %d", round, h, got, want)
			}
			if got >= 0 && !p.eps[got].ready || got < 0 && p.ready > 0 {
				t.Fatalf("round %d: fallback(%x) = %d with %d READY", round, h, got, p.ready)
			}
			if got >= 0 {
				wins[got]++
			}
		}
		for i, w := range wins {
			if !p.eps[i].ready {
				continue
			}
			want := 20_000 * p.eps[i].weight / p.readyW
			if math.Abs(w-want) > 5*math.Sqrt(want)+1 {
				t.Errorf("round %d: endpoint %d of weight %v won %v of 20000, want %.0f", round, i, p.eps[i].weight, w, want)
			}
		}
	}
}
