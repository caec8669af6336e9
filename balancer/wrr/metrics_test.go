package wrr

import (
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/balancer"
	estats "google.golang.org/grpc/experimental/stats"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/balancer/internal/lbmetrics"
	"github.com/grpckit/grpckit/balancer/internal/shardtest"
)

// recordingCC is a fake ClientConn whose MetricsRecorder keeps reporters.
type recordingCC struct {
	*shardtest.ClientConn
	rec *lbmetrics.TestRecorder
}

func (c recordingCC) MetricsRecorder() estats.MetricsRecorder { return c.rec }

const testTarget = "test:///greeter"

func newMetricsHarness(t *testing.T) (*harness, *lbmetrics.TestRecorder) {
	t.Helper()
	u, err := url.Parse(testTarget)
	if err != nil {
		t.Fatal(err)
	}
	cc := shardtest.NewClientConn(t)
	rec := &lbmetrics.TestRecorder{}
	b := balancer.Get(Name).Build(recordingCC{ClientConn: cc, rec: rec}, balancer.BuildOptions{Target: resolver.Target{URL: *u}})
	t.Cleanup(b.Close)
	return &harness{t: t, cc: cc, b: b}, rec
}

// TestMetricsReportTheScheduleShares checks that the reported weights are
// the shares picks follow: over k periods each endpoint is picked k times
// its reported weight. Endpoints that leave stop being reported, and Close
// unregisters the reporter.
func TestMetricsReportTheScheduleShares(t *testing.T) {
	h, rec := newMetricsHarness(t)
	if err := h.update(nil, "10.0.0.1:1/1", "10.0.0.2:1/2", "10.0.0.3:1/3"); err != nil {
		t.Fatal(err)
	}
	if got := rec.Collect()["grpckit.lb.wrr.ready_endpoints"][testTarget]; got != 0 {
		t.Errorf("ready endpoints before any is READY = %d, want 0", got)
	}
	h.cc.SetAllReady()
	got := rec.Collect()
	want := map[string]int64{testTarget + "|10.0.0.1:1": 1, testTarget + "|10.0.0.2:1": 2, testTarget + "|10.0.0.3:1": 3}
	if d := cmp.Diff(want, got["grpckit.lb.wrr.endpoint_weight"]); d != "" {
		t.Errorf("endpoint weights (-want +got):\n%s", d)
	}
	if n := got["grpckit.lb.wrr.ready_endpoints"][testTarget]; n != 3 {
		t.Errorf("ready endpoints = %d, want 3", n)
	}
	const periods = 100
	counts := count(picks(t, h.picker(), 6*periods))
	for addr, w := range got["grpckit.lb.wrr.endpoint_weight"] {
		addr = addr[len(testTarget)+1:]
		if counts[addr] != int(w)*periods {
			t.Errorf("%s picked %d times in %d periods, reported weight %d", addr, counts[addr], periods, w)
		}
	}

	if err := h.update(nil, "10.0.0.2:1/2", "10.0.0.3:1/3"); err != nil {
		t.Fatal(err)
	}
	got = rec.Collect()
	want = map[string]int64{testTarget + "|10.0.0.2:1": 2, testTarget + "|10.0.0.3:1": 3}
	if d := cmp.Diff(want, got["grpckit.lb.wrr.endpoint_weight"]); d != "" {
		t.Errorf("endpoint weights after removing one (-want +got):\n%s", d)
	}
	h.b.Close()
	if n := rec.Registered(); n != 0 {
		t.Errorf("%d reporters registered after Close, want 0", n)
	}
}
