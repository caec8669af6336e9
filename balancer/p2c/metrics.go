package p2c

import (
	"math"

	estats "google.golang.org/grpc/experimental/stats"

	"github.com/grpckit/grpckit/balancer/internal/lbmetrics"
)

// Metrics the policy reports through the channel's MetricsRecorder, read
// when the stats plugin collects, from the atomics Pick keeps anyway (Pick
// pays nothing for them). Like gRPC's own load-balancing metrics they are
// off by default; see the package doc.
var (
	endpointCostMetric = estats.RegisterInt64AsyncGauge(estats.MetricDescriptor{
		Name:        "grpckit.lb.p2c.endpoint_cost",
		Description: "EXPERIMENTAL. Cost the grpckit p2c policy compares for each READY endpoint: its decayed peak-EWMA latency estimate times (requests in flight + 1), divided by its effective weight.",
		Unit:        "ns",
		Labels:      []string{lbmetrics.LabelTarget, lbmetrics.LabelEndpoint},
		Default:     false,
	})
	endpointInFlightMetric = estats.RegisterInt64AsyncGauge(estats.MetricDescriptor{
		Name:        "grpckit.lb.p2c.endpoint_in_flight",
		Description: "EXPERIMENTAL. Requests the grpckit p2c policy has in flight on each READY endpoint.",
		Unit:        "{request}",
		Labels:      []string{lbmetrics.LabelTarget, lbmetrics.LabelEndpoint},
		Default:     false,
	})
	readyEndpointsMetric = estats.RegisterInt64AsyncGauge(estats.MetricDescriptor{
		Name:        "grpckit.lb.p2c.ready_endpoints",
		Description: "EXPERIMENTAL. Number of READY endpoints the grpckit p2c policy picks among.",
		Unit:        "{endpoint}",
		Labels:      []string{lbmetrics.LabelTarget},
		Default:     false,
	})
)

// report records the newest picker's endpoints; with no READY endpoint it
// records 0 endpoints.
func report(r estats.AsyncMetricsRecorder, cc *lbmetrics.Conn[*picker], target string) {
	p, ok := cc.Picker()
	if !ok {
		r.RecordInt64AsyncGauge(readyEndpointsMetric, 0, target)
		return
	}
	r.RecordInt64AsyncGauge(readyEndpointsMetric, int64(len(p.eps)), target)
	now := p.params.now()
	for i := range p.eps {
		e := &p.eps[i]
		inflight := e.stats.inflight.Load()
		r.RecordInt64AsyncGauge(endpointInFlightMetric, inflight, target, p.addrs[i])
		r.RecordInt64AsyncGauge(endpointCostMetric, cost(e, inflight, now), target, p.addrs[i])
	}
}

// cost is e's cost at now in nanoseconds, as Pick compares it.
func cost(e *endpoint, inflight, now int64) int64 {
	c := e.stats.estimate(now) * float64(inflight+1) * math.Exp(e.logInvWeight)
	return int64(math.Round(min(c, math.MaxInt64/2)))
}
