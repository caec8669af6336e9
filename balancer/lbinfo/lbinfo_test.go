package lbinfo_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/balancer"

	"github.com/grpckit/grpckit/balancer/lbinfo"
)

type plain struct{}

func (plain) Pick(balancer.PickInfo) (balancer.PickResult, error) { return balancer.PickResult{}, nil }

type detailed struct {
	plain
	d []lbinfo.EndpointDetail
}

func (p detailed) EndpointDetails() []lbinfo.EndpointDetail { return p.d }

func TestOf(t *testing.T) {
	if got := lbinfo.Of(plain{}); got != nil {
		t.Errorf("Of(a picker without details) = %v, want nil", got)
	}
	if got := lbinfo.Of(nil); got != nil {
		t.Errorf("Of(nil) = %v, want nil", got)
	}
	want := []lbinfo.EndpointDetail{{Addr: "a", Weight: 2}}
	if diff := cmp.Diff(want, lbinfo.Of(detailed{d: want})); diff != "" {
		t.Errorf("Of (-want +got):\n%s", diff)
	}
}

// TestMerge: the parent's non-zero fields win by address, the child's other
// fields and order stay, addresses of one side only are kept, and neither
// argument is written to.
func TestMerge(t *testing.T) {
	until := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	child := []lbinfo.EndpointDetail{
		{Addr: "a", Weight: 3, Cost: 1.5, Zone: "z1"},
		{Addr: "b", Weight: 1},
	}
	own := []lbinfo.EndpointDetail{
		{Addr: "b", EjectedUntil: until},
		{Addr: "c", EjectedUntil: until, Zone: "z2"},
		{Addr: "a", Zone: "z9"},
	}
	childCopy := append([]lbinfo.EndpointDetail(nil), child...)
	ownCopy := append([]lbinfo.EndpointDetail(nil), own...)
	got := lbinfo.Merge(child, own)
	want := []lbinfo.EndpointDetail{
		{Addr: "a", Weight: 3, Cost: 1.5, Zone: "z9"},
		{Addr: "b", Weight: 1, EjectedUntil: until},
		{Addr: "c", EjectedUntil: until, Zone: "z2"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Merge (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(childCopy, child); diff != "" {
		t.Errorf("Merge wrote to child (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(ownCopy, own); diff != "" {
		t.Errorf("Merge wrote to own (-before +after):\n%s", diff)
	}
	if got := lbinfo.Merge(nil, nil); len(got) != 0 {
		t.Errorf("Merge(nil, nil) = %v", got)
	}
}
