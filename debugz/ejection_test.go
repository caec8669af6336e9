package debugz_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/balancer/lbconfig"
	"github.com/grpckit/grpckit/balancer/outlier"
	"github.com/grpckit/grpckit/balancer/wrr"
	"github.com/grpckit/grpckit/debugz"
	"github.com/grpckit/grpckit/internal/greeter"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestEjectionShown: on a channel debugz{outlier{wrr}} over loopback
// servers, the outlier policy nested under the debugz policy ejects a
// failing backend; the page's JSON gives its return time, in the future,
// and does not count it as serving, though its connection is READY; the
// HTML shows it ejected, not plain READY.
func TestEjectionShown(t *testing.T) {
	ctx := context.Background()
	p := debugz.New()
	var gs []*greeter.Running
	for _, id := range []string{"g1", "g2", "g3"} {
		gs = append(gs, greeter.Start(t, kitresolver.Instance{ID: id, Service: "greeter"}))
	}
	bad := gs[2]
	bad.SetFailure(codes.Unavailable)
	r := manual.NewBuilderWithScheme("ejection")
	r.InitialState(resolver.State{Endpoints: kitresolver.Endpoints([]kitresolver.Instance{
		gs[0].Instance(), gs[1].Instance(), bad.Instance(),
	})})
	lb := lbconfig.Must(debugz.Policy(lbconfig.Must(outlier.Policy(lbconfig.Must(wrr.Policy()),
		outlier.WithConsecutiveFailures(2), outlier.WithInterval(100*time.Millisecond),
		outlier.WithBaseEjectionTime(time.Hour), outlier.WithMaxEjectionTime(time.Hour),
		outlier.WithMaxEjectionPercent(50)))))
	cc, err := grpc.NewClient("ejection:///greeter", grpc.WithResolvers(p.Builder(r)), lb.DialOption(),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()

	start := time.Now()
	var bv debugz.BalancerView
	waitFor(t, "the failing backend shown ejected, the others serving", func() bool {
		if err := sayHello(ctx, cc); err != nil && status.Code(err) != codes.Unavailable {
			t.Fatalf("call: %v", err)
		}
		bv = oneBalancer(t, report(t, p))
		ep := endpointOf(t, bv, bad.Addr)
		return ep.EjectedUntil != nil && ep.State == "READY" && bv.Serving == 2
	})
	ep := endpointOf(t, bv, bad.Addr)
	if ep.Serving || !ep.EjectedUntil.After(start.Add(50*time.Minute)) || ep.EjectedUntil.After(time.Now().Add(time.Hour)) {
		t.Errorf("ejected endpoint %+v: want not serving, back in an hour from its ejection", ep)
	}
	for _, g := range gs[:2] {
		if ep := endpointOf(t, bv, g.Addr); !ep.Serving || ep.EjectedUntil != nil {
			t.Errorf("healthy endpoint %+v: want serving, not ejected", ep)
		}
	}

	text := pageText(t, p)
	until := ep.EjectedUntil.UTC().Format(time.RFC3339)
	for _, fact := range []string{
		bad.Addr + " | READY, ejected until " + until + " |",
		"2 of 3 endpoints serving",
	} {
		if !strings.Contains(text, fact) {
			t.Errorf("page text lacks %q", fact)
		}
	}
	if strings.Contains(text, bad.Addr+" | READY |") {
		t.Error("page shows the ejected endpoint as plain READY")
	}
	if t.Failed() {
		t.Logf("page text:\n%s", text)
	}
}
