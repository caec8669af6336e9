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
