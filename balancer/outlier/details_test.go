package outlier

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/balancer"

	"github.com/grpckit/grpckit/balancer/lbinfo"
)

// detailChildName is round_robin whose pickers tell each endpoint's Weight
// (7) and Zone ("z"), as a child policy implementing lbinfo does.
const detailChildName = "outlier_test_detail_child"

func init() { balancer.Register(detailChildBuilder{}) }

type detailChildBuilder struct{}

func (detailChildBuilder) Name() string { return detailChildName }

func (detailChildBuilder) Build(cc balancer.ClientConn, opts balancer.BuildOptions) balancer.Balancer {
	return balancer.Get("round_robin").Build(detailChildCC{cc}, opts)
}

type detailChildCC struct{ balancer.ClientConn }

func (c detailChildCC) UpdateState(s balancer.State) {
	s.Picker = detailChildPicker{s.Picker}
	c.ClientConn.UpdateState(s)
}

type detailChildPicker struct{ balancer.Picker }

func (detailChildPicker) EndpointDetails() []lbinfo.EndpointDetail {
	var out []lbinfo.EndpointDetail
	for i := range 4 {
		out = append(out, lbinfo.EndpointDetail{Addr: fmt.Sprintf("10.0.0.%d:443", i+1), Weight: 7, Zone: "z"})
	}
	return out
}

func details(h *harness) []lbinfo.EndpointDetail {
	h.t.Helper()
	d, ok := h.cc.LastState().Picker.(lbinfo.EndpointDetailer)
	if !ok {
		h.t.Fatalf("picker %T does not implement lbinfo.EndpointDetailer", h.cc.LastState().Picker)
	}
	return d.EndpointDetails()
}

// TestEndpointDetailsEjection: the picker tells when each ejected endpoint
// comes back, and nothing of the others; after the return, nothing.
func TestEndpointDetailsEjection(t *testing.T) {
	h := newHarness(t, `{"consecutiveFailures":2,"failureRateThreshold":0,"baseEjectionTime":"30s","maxEjectionPercent":50}`, 4)
	if got := details(h); len(got) != 0 {
		t.Fatalf("details with nothing ejected: %+v", got)
	}
	h.fail(2, 2)
	h.waitPicks(h.addrs[0], h.addrs[1], h.addrs[3])
	want := []lbinfo.EndpointDetail{{Addr: h.addrs[2], EjectedUntil: h.clock.Now().Add(30 * time.Second)}}
	if diff := cmp.Diff(want, details(h)); diff != "" {
		t.Fatalf("details of an ejected endpoint (-want +got):\n%s", diff)
	}
	h.clock.Advance(30 * time.Second)
	h.sync()
	h.waitPicks(h.addrs...)
	if got := details(h); len(got) != 0 {
		t.Fatalf("details after the return: %+v", got)
	}
}

// TestEndpointDetailsMergeChild: the child picker's details pass through,
// with the ejection laid over the ejected endpoint's.
func TestEndpointDetailsMergeChild(t *testing.T) {
	h := newHarness(t, `{"consecutiveFailures":2,"failureRateThreshold":0,"baseEjectionTime":"30s",
		"maxEjectionPercent":50,"childPolicy":[{"`+detailChildName+`":{}}]}`, 4)
	h.fail(1, 2)
	h.waitPicks(h.addrs[0], h.addrs[2], h.addrs[3])
	var want []lbinfo.EndpointDetail
	for i, a := range h.addrs {
		d := lbinfo.EndpointDetail{Addr: a, Weight: 7, Zone: "z"}
		if i == 1 {
			d.EjectedUntil = h.clock.Now().Add(30 * time.Second)
		}
		want = append(want, d)
	}
	if diff := cmp.Diff(want, details(h)); diff != "" {
		t.Fatalf("merged details (-want +got):\n%s", diff)
	}
}
