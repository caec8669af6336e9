package zoneaware

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/connectivity"

	"github.com/grpckit/grpckit/internal/testutil"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// pausingCC is a fake ClientConn whose next UpdateState can be made to wait
// before it records its picker.
type pausingCC struct {
	*testutil.BalancerClientConn
	hook atomic.Pointer[func()]
	n    atomic.Int64 // states recorded
}

func (c *pausingCC) UpdateState(s balancer.State) {
	if h := c.hook.Swap(nil); h != nil {
		(*h)()
	}
	c.BalancerClientConn.UpdateState(s)
	c.n.Add(1)
}

// TestPickersPublishedInOrder: a picker built from an older state, on its
// way to gRPC, is not overtaken by one built later on another goroutine.
// The first of two updates, from zone a's child, is held inside the
// parent's UpdateState while the second, from zone b's, runs. Unordered,
// the second lands first and the stale picker last; in order, the second
// waits for the first.
func TestPickersPublishedInOrder(t *testing.T) {
	h := newHarness(t, `{"localZone":"a","childPolicy":[{"round_robin":{}}]}`)
	pcc := &pausingCC{BalancerClientConn: h.cc}
	h.b.cc = pcc
	h.update(inst("a", 0, 1), inst("a", 1, 1), inst("b", 0, 1), inst("b", 1, 1))
	h.waitPicks(100, "a")

	entered, release := make(chan struct{}), make(chan struct{})
	hold := func() { close(entered); <-release }
	pcc.hook.Store(&hold)
	var first sync.WaitGroup
	// a0 down: a keeps half the calls, the rest spills to b.
	first.Go(func() { h.cc.SubConnFor(inst("a", 0, 1).Addr).UpdateState(connectivity.Idle) })
	<-entered

	second := make(chan struct{})
	published := pcc.n.Load()
	go func() {
		defer close(second)
		// b0 down too: a has as much READY as b again and takes everything.
		h.cc.SubConnFor(inst("b", 0, 1).Addr).UpdateState(connectivity.Idle)
	}()
	// Unordered, the second picker arrives meanwhile; ordered, it waits.
	for deadline := time.Now().Add(testutil.ShortTimeout); time.Now().Before(deadline) && pcc.n.Load() == published; {
		time.Sleep(time.Millisecond)
	}
	close(release)
	first.Wait()
	<-second

	if got := h.picks(200); got["a"] != 200 {
		t.Fatalf("with one endpoint down in each zone, the last picker sent 200 picks %v; want all to a", got)
	}
}

// TestLastPickerReflectsLastState: children of different zones change
// state on their own goroutines; once they are done, the last picker gRPC
// got is the one the final state gives.
func TestLastPickerReflectsLastState(t *testing.T) {
	for round := range 20 {
		h := newHarness(t, `{"localZone":"a","childPolicy":[{"round_robin":{}}]}`)
		var insts []kitresolver.Instance
		for _, z := range []string{"a", "b", "c"} {
			for n := range 3 {
				insts = append(insts, inst(z, n, uint32(n+1)))
			}
		}
		h.update(insts...)
		h.cc.SetAllReady()
		var wg sync.WaitGroup
		for zi, z := range []string{"a", "b", "c"} {
			wg.Go(func() {
				for i := range 30 {
					sc := h.cc.SubConnFor(inst(z, (i+zi+round)%3, 1).Addr)
					for _, s := range []connectivity.State{connectivity.Idle, connectivity.Connecting, connectivity.Ready} {
						if i%2 == 0 || s != connectivity.Ready {
							sc.UpdateState(s)
						}
					}
				}
			})
		}
		wg.Wait()
		last := h.cc.LastState().Picker.(*picker)
		h.b.mu.Lock()
		want := h.b.stateLocked().Picker.(*picker)
		h.b.mu.Unlock()
		if !samePicker(last, want) {
			t.Fatalf("round %d: last picker has bounds %v, the final state gives %v", round, last.bounds, want.bounds)
		}
	}
}

func samePicker(a, b *picker) bool {
	if len(a.bounds) != len(b.bounds) {
		return false
	}
	for i := range a.bounds {
		if a.bounds[i] != b.bounds[i] || a.pickers[i] != b.pickers[i] {
			return false
		}
	}
	return true
}
