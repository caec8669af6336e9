package wrr

import (
	estats "google.golang.org/grpc/experimental/stats"

	"github.com/grpckit/grpckit/balancer/internal/lbmetrics"
)

// Metrics the policy reports through the channel's MetricsRecorder, read
// when the stats plugin collects (Pick pays nothing for them). Like gRPC's
// own load-balancing metrics they are off by default; see the package doc
// for how to turn them on.
var (
	endpointWeightMetric = estats.RegisterInt64AsyncGauge(estats.MetricDescriptor{
		Name:        "grpckit.lb.wrr.endpoint_weight",
		Description: "EXPERIMENTAL. Effective weight of each READY endpoint in the grpckit weighted round robin schedule, after slow start; an endpoint's share of picks is its weight over the sum.",
		Unit:        "{weight}",
		Labels:      []string{lbmetrics.LabelTarget, lbmetrics.LabelEndpoint},
		Default:     false,
	})
	readyEndpointsMetric = estats.RegisterInt64AsyncGauge(estats.MetricDescriptor{
		Name:        "grpckit.lb.wrr.ready_endpoints",
		Description: "EXPERIMENTAL. Number of READY endpoints the grpckit weighted round robin schedule spreads picks over.",
		Unit:        "{endpoint}",
		Labels:      []string{lbmetrics.LabelTarget},
		Default:     false,
	})
)

// report records the newest picker's endpoints and weights; with no READY
// endpoint it records 0 endpoints.
func report(r estats.AsyncMetricsRecorder, cc *lbmetrics.Conn[*picker], target string) {
	p, ok := cc.Picker()
	if !ok {
		r.RecordInt64AsyncGauge(readyEndpointsMetric, 0, target)
		return
	}
	r.RecordInt64AsyncGauge(readyEndpointsMetric, int64(len(p.addrs)), target)
	for i, a := range p.addrs {
		r.RecordInt64AsyncGauge(endpointWeightMetric, int64(p.weights[i]), target, a)
	}
}
