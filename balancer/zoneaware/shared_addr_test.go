package zoneaware

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/internal/testutil"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestAddressSharedAcrossZones: when two endpoints in different zones share
// an address, a SubConn a zone's child creates for it counts for that
// zone's endpoint, not for whichever endpoint came last: a READY SubConn in
// zone b must not make zone a look READY (its child would then get every
// call and queue them all while b could serve).
func TestAddressSharedAcrossZones(t *testing.T) {
	h := newHarness(t, `{"localZone":"a","childPolicy":[{"round_robin":{}}]}`)
	const shared, other = "10.0.0.1:443", "10.0.0.2:443"
	eps := []resolver.Endpoint{
		kitresolver.SetInstance(resolver.Endpoint{Addresses: []resolver.Address{{Addr: shared}}}, kitresolver.Instance{ID: "b", Addr: shared, Zone: "b"}),
		kitresolver.SetInstance(resolver.Endpoint{Addresses: []resolver.Address{{Addr: other}, {Addr: shared}}}, kitresolver.Instance{ID: "a", Addr: other, Zone: "a"}),
	}
	if err := h.b.UpdateClientConnState(balancer.ClientConnState{ResolverState: resolver.State{Endpoints: eps}, BalancerConfig: h.cfg}); err != nil {
		t.Fatal(err)
	}
	// Zone b's SubConn for the shared address connects; zone a's child is
	// still trying its first address.
	var zoneB *testutil.SubConn
	for _, sc := range h.cc.SubConns() {
		sc.UpdateState(connectivity.Connecting)
		if sc.Addr() == shared {
			zoneB = sc
		}
	}
	if zoneB == nil {
		t.Fatalf("no SubConn for %s among %v", shared, h.cc.SubConns())
	}
	zoneB.UpdateState(connectivity.Ready)

	want := []zoneLoad{{zone: "a", total: 1, ready: 0}, {zone: "b", total: 1, ready: 1}}
	if diff := cmp.Diff(want, h.loads(), cmp.AllowUnexported(zoneLoad{})); diff != "" {
		t.Errorf("zones (-want +got):\n%s", diff)
	}
	var err error
	for deadline := time.Now().Add(testutil.DefaultTimeout); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		var res balancer.PickResult
		if res, err = h.cc.LastState().Picker.Pick(balancer.PickInfo{Ctx: context.Background()}); err == nil {
			if got := res.SubConn.(*testutil.SubConn).Addr(); got != shared {
				t.Fatalf("picked %s, want %s", got, shared)
			}
			return
		}
		if !errors.Is(err, balancer.ErrNoSubConnAvailable) {
			break
		}
	}
	t.Fatalf("with zone b READY, picks fail with %v", err)
}

// TestAddressSharedInAZone: within one zone, an address two endpoints share
// counts for the first that lists it, so an endpoint whose own first address
// it is gets its READY weight; the second endpoint counts through its own
// first address.
func TestAddressSharedInAZone(t *testing.T) {
	h := newHarness(t, `{"localZone":"a","childPolicy":[{"round_robin":{}}]}`)
	const shared, second = "10.0.0.1:443", "10.0.0.2:443"
	eps := []resolver.Endpoint{
		kitresolver.SetInstance(resolver.Endpoint{Addresses: []resolver.Address{{Addr: shared}}}, kitresolver.Instance{ID: "1", Addr: shared, Zone: "a", Weight: 1}),
		kitresolver.SetInstance(resolver.Endpoint{Addresses: []resolver.Address{{Addr: second}, {Addr: shared}}}, kitresolver.Instance{ID: "2", Addr: second, Zone: "a", Weight: 3}),
	}
	if err := h.b.UpdateClientConnState(balancer.ClientConnState{ResolverState: resolver.State{Endpoints: eps}, BalancerConfig: h.cfg}); err != nil {
		t.Fatal(err)
	}
	for _, sc := range h.cc.SubConns() {
		sc.UpdateState(connectivity.Connecting)
		if sc.Addr() == shared {
			sc.UpdateState(connectivity.Ready)
		}
	}
	want := []zoneLoad{{zone: "a", total: 4, ready: 1}}
	if diff := cmp.Diff(want, h.loads(), cmp.AllowUnexported(zoneLoad{})); diff != "" {
		t.Errorf("with only the first endpoint READY, zones (-want +got):\n%s", diff)
	}
}

// TestSharedFirstAddressKeepsRecord: an endpoint whose first address an
// earlier endpoint of its zone also lists keeps its record across updates
// (found by its other address), so its SubConns still count it READY.
func TestSharedFirstAddressKeepsRecord(t *testing.T) {
	h := newHarness(t, `{"localZone":"a","childPolicy":[{"round_robin":{}}]}`)
	const shared, own = "10.0.0.1:443", "10.0.0.2:443"
	eps := []resolver.Endpoint{
		kitresolver.SetInstance(resolver.Endpoint{Addresses: []resolver.Address{{Addr: shared}}}, kitresolver.Instance{ID: "1", Addr: shared, Zone: "a", Weight: 1}),
		kitresolver.SetInstance(resolver.Endpoint{Addresses: []resolver.Address{{Addr: shared}, {Addr: own}}}, kitresolver.Instance{ID: "2", Addr: own, Zone: "a", Weight: 3}),
	}
	update := func() {
		if err := h.b.UpdateClientConnState(balancer.ClientConnState{ResolverState: resolver.State{Endpoints: eps}, BalancerConfig: h.cfg}); err != nil {
			t.Fatal(err)
		}
	}
	update()
	// The shared address fails for both; the second endpoint's child moves
	// on to its own address, which connects.
	for _, sc := range h.cc.SubConns() {
		sc.UpdateState(connectivity.Connecting)
		sc.UpdateState(connectivity.TransientFailure)
	}
	var ownSC *testutil.SubConn
	for deadline := time.Now().Add(testutil.DefaultTimeout); ownSC == nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no SubConn for %s among %v", own, h.cc.SubConns())
		}
		ownSC = h.cc.SubConnFor(own)
	}
	ownSC.UpdateState(connectivity.Connecting)
	ownSC.UpdateState(connectivity.Ready)
	want := []zoneLoad{{zone: "a", total: 4, ready: 3}}
	if diff := cmp.Diff(want, h.loads(), cmp.AllowUnexported(zoneLoad{})); diff != "" {
		t.Errorf("with the second endpoint READY, zones (-want +got):\n%s", diff)
	}
	update() // the same endpoints again
	if diff := cmp.Diff(want, h.loads(), cmp.AllowUnexported(zoneLoad{})); diff != "" {
		t.Errorf("after the same update again, zones (-want +got):\n%s", diff)
	}
}
