package etcd_test

import (
	"testing"
	"time"

	"github.com/grpckit/grpckit/registrytest"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/etcd"
)

// TestResolveNowKeepsBackoff: gRPC calls ResolveNow on every failed
// connection. With etcd down and a steady stream of ResolveNow calls, the
// resolver still lists at most once per backoff step: its list attempts stay
// within the ceiling the backoff schedule allows in the time observed, which
// holds however slow the machine is (a slow machine only lists less).
func TestResolveNowKeepsBackoff(t *testing.T) {
	cluster := registrytest.StartEtcd(t)
	cli := newClient(t, cluster.Endpoints()...)
	cluster.StopAll()
	b := kitresolver.Backoff{Base: 50 * time.Millisecond, Max: 10 * time.Second, Multiplier: 2, Jitter: 0.2}
	start := time.Now()
	_, r := buildResolver(t, etcd.NewBuilder(cli, etcd.WithBackoff(b), etcd.WithRequestTimeout(20*time.Millisecond)), "etcd:///greeter")

	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				for range 10 {
					r.ResolveNow(resolverNowOpts)
				}
			}
		}
	}()
	time.Sleep(2 * time.Second) // the observation window; the ceiling follows from its real length
	close(stop)
	<-stopped
	attempts, elapsed := etcd.ListAttempts(r), time.Since(start)

	// Waits between attempts last at least (1-Jitter)·Base·Multiplier^i.
	// (Max is beyond the window.)
	ceiling, sum := int64(1), time.Duration(0)
	for d := time.Duration((1 - b.Jitter) * float64(b.Base)); sum+d <= elapsed; d = time.Duration(float64(d) * b.Multiplier) {
		sum += d
		ceiling++
	}
	t.Logf("%d list attempts in %v; the backoff allows at most %d", attempts, elapsed.Round(time.Millisecond), ceiling)
	if attempts > ceiling {
		t.Fatalf("%d list attempts in %v under a stream of ResolveNow calls; the backoff allows at most %d", attempts, elapsed, ceiling)
	}
	if attempts < 2 {
		t.Fatalf("%d list attempts in %v; want the resolver to keep retrying", attempts, elapsed)
	}
}
