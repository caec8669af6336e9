package debugz

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/resolver"
)

type detailPicker struct{ details []EndpointDetail }

func (detailPicker) Pick(balancer.PickInfo) (balancer.PickResult, error) {
	return balancer.PickResult{}, balancer.ErrNoSubConnAvailable
}

func (p detailPicker) EndpointDetails() []EndpointDetail { return p.details }

// TestEndpointDetailer: a child picker's details land on the endpoints of
// the same address, and details of addresses the policy does not know are
// dropped.
func TestEndpointDetailer(t *testing.T) {
	until := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	e := &balancerEntry{byAddr: map[string]*endpointStats{}, scs: map[balancer.SubConn]*endpointStats{}}
	e.setEndpoints(stateOf("10.0.0.1:1", "10.0.0.2:1"))
	e.wrap(balancer.State{Picker: detailPicker{[]EndpointDetail{
		{Addr: "10.0.0.2:1", Weight: 2.5, Cost: 0.75, EjectedUntil: until, Zone: "eu-1a"},
		{Addr: "10.9.9.9:1", Weight: 9},
	}}})
	for _, rec := range e.byAddr {
		rec.state.Store(int32(connectivity.Ready))
	}
	v := e.view()
	if v.Serving != 1 || !v.Endpoints[0].Serving || v.Endpoints[1].Serving {
		t.Errorf("serving %d, endpoints %+v: want only the endpoint not ejected", v.Serving, v.Endpoints)
	}
	if len(v.Endpoints) != 2 {
		t.Fatalf("endpoints %+v", v.Endpoints)
	}
	got := v.Endpoints[1]
	if got.Address != "10.0.0.2:1" || got.Weight != 2.5 || got.Cost != 0.75 || got.Zone != "eu-1a" ||
		got.EjectedUntil == nil || !got.EjectedUntil.Equal(until) {
		t.Errorf("detailed endpoint %+v", got)
	}
	if first := v.Endpoints[0]; first.Weight != 0 || first.EjectedUntil != nil {
		t.Errorf("endpoint without details %+v", first)
	}

	// The HTML shows the detail columns, which it leaves out without them.
	p := New(WithClock(func() time.Time { return until.Add(-90 * time.Second) }))
	p.balancers[e] = struct{}{}
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	for _, want := range []string{"<th>weight</th>", "<td>2.5</td>", "<td>0.75</td>", "1m30s", "<td>eu-1a</td>",
		`<td class="err">READY, ejected until 2030-01-02T03:04:05Z</td>`, "1 of 2 endpoints serving"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	e.wrap(balancer.State{Picker: detailPicker{}})
	rec = httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if strings.Contains(rec.Body.String(), "<th>weight</th>") {
		t.Error("HTML has a weight column without weights")
	}
}

func stateOf(addrs ...string) resolver.State {
	var s resolver.State
	for _, a := range addrs {
		s.Endpoints = append(s.Endpoints, resolver.Endpoint{Addresses: []resolver.Address{{Addr: a}}})
	}
	return s
}
