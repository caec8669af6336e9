package testutil

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/resolver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLatestDropsOldest(t *testing.T) {
	l := NewLatest[int](2)
	for i := range 5 {
		l.Send(i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	for _, want := range []int{3, 4} {
		if got, err := l.Receive(ctx); err != nil || got != want {
			t.Fatalf("Receive() = %d, %v; want %d", got, err, want)
		}
	}
	short, cancelShort := context.WithTimeout(ctx, ShortTimeout)
	defer cancelShort()
	if _, err := l.Receive(short); err == nil {
		t.Fatal("Receive() on an empty channel returned a value")
	}
}

func TestSubConnDeliversReadyToBothListeners(t *testing.T) {
	cc := NewBalancerClientConn()
	var states []connectivity.State
	shutdown := make(chan struct{})
	sc, err := cc.NewSubConn([]resolver.Address{{Addr: "a:1"}}, balancer.NewSubConnOptions{
		StateListener: func(s balancer.SubConnState) {
			if s.ConnectivityState == connectivity.Shutdown {
				close(shutdown)
				return
			}
			states = append(states, s.ConnectivityState)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	fake := sc.(*SubConn)
	healthy := false
	fake.RegisterHealthListener(func(s balancer.SubConnState) { healthy = s.ConnectivityState == connectivity.Ready })
	fake.UpdateState(connectivity.Ready)
	if !healthy || len(states) != 1 || states[0] != connectivity.Ready {
		t.Fatalf("after READY: states %v, healthy %v", states, healthy)
	}
	if cc.SubConnFor("a:1") != fake {
		t.Fatal("SubConnFor did not find the SubConn")
	}
	fake.Shutdown()
	if !fake.IsShutdown() {
		t.Fatal("IsShutdown() = false after Shutdown")
	}
	select {
	case <-shutdown:
	case <-time.After(DefaultTimeout):
		t.Fatalf("no SHUTDOWN after Shutdown; states %v", states)
	}
}

func TestResolverClientConnRecords(t *testing.T) {
	cc := NewResolverClientConn()
	if _, ok := cc.LastState(); ok {
		t.Fatal("LastState() before any update reported a state")
	}
	cc.UpdateState(resolver.State{Endpoints: []resolver.Endpoint{{}}})
	if s, ok := cc.LastState(); !ok || len(s.Endpoints) != 1 {
		t.Fatalf("LastState() = %v, %v", s, ok)
	}
}

// TestHealthListenerRegisteredWhenReadyGetsReady checks that a health
// listener registered on a READY SubConn hears READY without another
// UpdateState, as with gRPC, once, and after the call that registered it;
// that one registered on a SubConn that is not READY hears nothing; and that
// a state reported before the delivery cancels it.
func TestHealthListenerRegisteredWhenReadyGetsReady(t *testing.T) {
	cc := NewBalancerClientConn()
	var fake *SubConn
	health := make(chan connectivity.State, 8)
	listener := func(s balancer.SubConnState) { health <- s.ConnectivityState }
	registering := make(chan struct{})
	sc, err := cc.NewSubConn([]resolver.Address{{Addr: "a:1"}}, balancer.NewSubConnOptions{
		StateListener: func(s balancer.SubConnState) {
			if s.ConnectivityState == connectivity.Ready {
				// As pickfirst does: register from within the state listener.
				fake.RegisterHealthListener(listener)
				close(registering)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	fake = sc.(*SubConn)

	// Not READY: nothing to report.
	fake.RegisterHealthListener(listener)
	fake.UpdateState(connectivity.Connecting)
	fake.UpdateState(connectivity.Ready)
	<-registering
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	select {
	case s := <-health:
		if s != connectivity.Ready {
			t.Fatalf("health listener got %v, want READY", s)
		}
	case <-ctx.Done():
		t.Fatal("a health listener registered on READY got nothing")
	}

	// Registered again while READY: READY again, once.
	fake.RegisterHealthListener(listener)
	select {
	case s := <-health:
		if s != connectivity.Ready {
			t.Fatalf("health listener got %v, want READY", s)
		}
	case <-ctx.Done():
		t.Fatal("a health listener registered while READY got nothing")
	}
	short, cancelShort := context.WithTimeout(ctx, ShortTimeout)
	defer cancelShort()
	select {
	case s := <-health:
		t.Fatalf("health listener got a second %v", s)
	case <-short.Done():
	}

	// Registered while READY, then the SubConn leaves READY before the
	// delivery: the stale READY is dropped.
	fake.deliver.Lock()
	fake.RegisterHealthListener(listener)
	fake.mu.Lock()
	fake.state = connectivity.Idle
	fake.mu.Unlock()
	fake.deliver.Unlock()
	short2, cancelShort2 := context.WithTimeout(ctx, ShortTimeout)
	defer cancelShort2()
	select {
	case s := <-health:
		t.Fatalf("health listener got %v after the SubConn left READY", s)
	case <-short2.Done():
	}
	fake.Shutdown()
}
