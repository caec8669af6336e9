package consistenthash

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/endpointsharding"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/internal/testutil"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

func buildBalancer(t *testing.T) (*testutil.BalancerClientConn, balancer.Balancer) {
	t.Helper()
	cc := testutil.NewBalancerClientConn()
	b := balancer.Get(Name).Build(cc, balancer.BuildOptions{})
	t.Cleanup(b.Close)
	return cc, b
}

func testState(n int) resolver.State {
	insts := make([]kitresolver.Instance, n)
	for i := range insts {
		insts[i] = kitresolver.Instance{Service: "greeter", Addr: fmt.Sprintf("127.0.0.%d:50051", i+1)}
	}
	return resolver.State{Endpoints: kitresolver.Endpoints(insts)}
}

// waitPicker waits for a picker published in state want.
func waitPicker(ctx context.Context, t *testing.T, cc *testutil.BalancerClientConn, want connectivity.State) balancer.Picker {
	t.Helper()
	for {
		s, err := cc.States.Receive(ctx)
		if err != nil {
			t.Fatalf("waiting for %v: %v", want, err)
		}
		if s.ConnectivityState == want {
			return s.Picker
		}
	}
}

func TestBalancerEmptyEndpoints(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	cc, b := buildBalancer(t)
	cfg, _ := parseConfig(nil)
	err := b.UpdateClientConnState(balancer.ClientConnState{BalancerConfig: cfg})
	if !errors.Is(err, balancer.ErrBadResolverState) {
		t.Fatalf("UpdateClientConnState(no endpoints) = %v, want ErrBadResolverState", err)
	}
	p := waitPicker(ctx, t, cc, connectivity.TransientFailure)
	if _, err := p.Pick(balancer.PickInfo{Ctx: ctx}); err == nil {
		t.Fatal("Pick with no endpoints succeeded")
	}
}

// TestBalancerLoadsSurviveRebuild checks that an in-flight request keeps
// counting against its endpoint across new pickers.
func TestBalancerLoadsSurviveRebuild(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	cc, b := buildBalancer(t)
	cfg, err := parseConfig([]byte(`{"loadFactor":1.25,"ringSize":1024}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.UpdateClientConnState(balancer.ClientConnState{ResolverState: testState(3), BalancerConfig: cfg}); err != nil {
		t.Fatal(err)
	}
	cc.SetAllReady()
	p := waitPicker(ctx, t, cc, connectivity.Ready)
	for p.(*picker).ready < 3 {
		p = waitPicker(ctx, t, cc, connectivity.Ready)
	}
	res, err := p.Pick(balancer.PickInfo{Ctx: WithKey(ctx, "k")})
	if err != nil {
		t.Fatal(err)
	}
	addr := res.SubConn.(*testutil.SubConn).Addr()
	// A new endpoint set produces a new ring and picker.
	if err := b.UpdateClientConnState(balancer.ClientConnState{ResolverState: testState(4), BalancerConfig: cfg}); err != nil {
		t.Fatal(err)
	}
	p2 := cc.LastState().Picker.(*picker)
	if p2 == p {
		t.Fatal("no new picker after an endpoint was added")
	}
	i, _ := p2.indexOf(childFor(t, cc, addr))
	if got := p2.eps[i].load.n.Load(); got != 1 {
		t.Errorf("load of %s in the new picker = %d, want 1", addr, got)
	}
	res.Done(balancer.DoneInfo{})
	if got := p2.eps[i].load.n.Load(); got != 0 {
		t.Errorf("load of %s after Done = %d, want 0", addr, got)
	}
}

func childFor(t *testing.T, _ *testutil.BalancerClientConn, addr string) (c endpointsharding.ChildState) {
	t.Helper()
	c.Endpoint.Addresses = []resolver.Address{{Addr: addr}}
	return c
}

// TestBalancerSharedFirstAddress gives two endpoints the same first address,
// [A,B] and [A,C], so the table holds one entry for both, and makes one of
// them READY: every Pick must return, with the READY one.
func TestBalancerSharedFirstAddress(t *testing.T) {
	for _, readyChild := range []int{0, 1} {
		t.Run(fmt.Sprint("ready", readyChild), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
			defer cancel()
			cc, b := buildBalancer(t)
			eps := []resolver.Endpoint{
				{Addresses: []resolver.Address{{Addr: "10.0.0.1:50051"}, {Addr: "10.0.0.2:50051"}}},
				{Addresses: []resolver.Address{{Addr: "10.0.0.1:50051"}, {Addr: "10.0.0.3:50051"}}},
			}
			cfg, _ := parseConfig([]byte(`{"ringSize":1024}`))
			if err := b.UpdateClientConnState(balancer.ClientConnState{ResolverState: resolver.State{Endpoints: eps}, BalancerConfig: cfg}); err != nil {
				t.Fatal(err)
			}
			scs := cc.SubConns()
			if len(scs) != 2 {
				t.Fatalf("%d SubConns, want one per endpoint: %v", len(scs), scs)
			}
			scs[readyChild].UpdateState(connectivity.Ready)
			p := waitPicker(ctx, t, cc, connectivity.Ready)
			for k := range 100 {
				res := pickWithin(ctx, t, p, WithKey(ctx, fmt.Sprint("user-", k)))
				if res.SubConn != scs[readyChild] {
					t.Fatalf("key %d picked %v, want the READY %v", k, res.SubConn, scs[readyChild])
				}
			}
		})
	}
}

// pickWithin picks in another goroutine and fails the test if Pick errs or
// has not returned when ctx expires.
func pickWithin(ctx context.Context, t *testing.T, p balancer.Picker, keyCtx context.Context) balancer.PickResult {
	t.Helper()
	type result struct {
		res balancer.PickResult
		err error
	}
	ch := make(chan result, 1)
	go func() {
		res, err := p.Pick(balancer.PickInfo{Ctx: keyCtx})
		ch <- result{res, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("Pick: %v", r.err)
		}
		return r.res
	case <-ctx.Done():
		t.Fatal("Pick did not return before the deadline")
		return balancer.PickResult{}
	}
}

// TestBalancerResolverErrorFirst reports a resolver error before any
// endpoint: RPCs must fail with it, and a later update with endpoints must
// replace it.
func TestBalancerResolverErrorFirst(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	cc, b := buildBalancer(t)
	resolverErr := errors.New("lookup greeter: no such host")
	b.ResolverError(resolverErr)
	p := waitPicker(ctx, t, cc, connectivity.TransientFailure)
	if _, err := p.Pick(balancer.PickInfo{Ctx: WithKey(ctx, "k")}); !errors.Is(err, resolverErr) {
		t.Fatalf("Pick after a resolver error and no endpoints: %v, want the resolver's error %q", err, resolverErr)
	}
	cfg, _ := parseConfig([]byte(`{"ringSize":1024}`))
	if err := b.UpdateClientConnState(balancer.ClientConnState{ResolverState: testState(2), BalancerConfig: cfg}); err != nil {
		t.Fatal(err)
	}
	cc.SetAllReady()
	p = waitPicker(ctx, t, cc, connectivity.Ready)
	if _, err := p.Pick(balancer.PickInfo{Ctx: WithKey(ctx, "k")}); err != nil {
		t.Fatalf("Pick after endpoints arrived: %v", err)
	}
}
