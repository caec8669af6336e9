package zoneaware

import (
	"math"
	"slices"

	estats "google.golang.org/grpc/experimental/stats"

	"github.com/grpckit/grpckit/balancer/internal/lbmetrics"
)

// Label names of the zone-aware metrics, beside grpc.target.
const (
	labelZone  = "grpckit.lb.zone"
	labelMode  = "grpckit.lb.zoneaware.mode"
	labelState = "grpckit.lb.endpoint_state"
)

// Metrics the policy reports through the channel's MetricsRecorder, read
// when the stats plugin collects, from a snapshot taken when the picker is
// built (Pick pays nothing for them). Like gRPC's own load-balancing metrics
// they are off by default; see the package doc.
var (
	zoneShareMetric = estats.RegisterInt64AsyncGauge(estats.MetricDescriptor{
		Name:        "grpckit.lb.zoneaware.zone_share",
		Description: "EXPERIMENTAL. Share of picks the grpckit zone-aware policy sends to each zone, in parts per million.",
		Unit:        "[ppm]",
		Labels:      []string{lbmetrics.LabelTarget, labelZone},
		Default:     false,
	})
	spillShareMetric = estats.RegisterInt64AsyncGauge(estats.MetricDescriptor{
		Name:        "grpckit.lb.zoneaware.spill_share",
		Description: "EXPERIMENTAL. Share of picks the grpckit zone-aware policy sends outside the local zone, in parts per million.",
		Unit:        "[ppm]",
		Labels:      []string{lbmetrics.LabelTarget},
		Default:     false,
	})
	modeMetric = estats.RegisterInt64AsyncGauge(estats.MetricDescriptor{
		Name:        "grpckit.lb.zoneaware.mode",
		Description: "EXPERIMENTAL. 1 for the routing mode the grpckit zone-aware policy is in (local, spill-over, panic, any-zone, none-ready), 0 for the others.",
		Unit:        "1",
		Labels:      []string{lbmetrics.LabelTarget, labelMode},
		Default:     false,
	})
	endpointsMetric = estats.RegisterInt64AsyncGauge(estats.MetricDescriptor{
		Name:        "grpckit.lb.zoneaware.endpoints",
		Description: "EXPERIMENTAL. Endpoints of each zone, READY (connected, healthy, not ejected) or not.",
		Unit:        "{endpoint}",
		Labels:      []string{lbmetrics.LabelTarget, labelZone, labelState},
		Default:     false,
	})
	metrics = []estats.AsyncMetric{zoneShareMetric, spillShareMetric, modeMetric, endpointsMetric}
	modes   = []string{modeLocal, modeSpill, modePanic, modeAny, modeNoReady}
)

// snapshot is what the metrics report: the routing decision of the newest
// picker. It is immutable once published.
type snapshot struct {
	mode          string
	local         string    // the local zone; "" if unknown
	zones         []string  // sorted
	shares        []float64 // by zone
	ready, others []int64   // endpoints by zone, READY or not
}

// snapshotLocked records the decision just made for the metrics.
func (b *zoneBalancer) snapshotLocked(mode, local string, sh []float64) {
	s := &snapshot{mode: mode, local: local, zones: slices.Clone(b.order), shares: sh,
		ready: make([]int64, len(b.order)), others: make([]int64, len(b.order))}
	idx := make(map[string]int, len(b.order))
	for i, z := range b.order {
		idx[z] = i
	}
	for _, st := range b.records {
		i, ok := idx[st.zone]
		switch {
		case !ok:
		case st.ready > 0:
			s.ready[i]++
		default:
			s.others[i]++
		}
	}
	b.snap.Store(s)
}

func ppm(f float64) int64 { return int64(math.Round(f * 1e6)) }

// report records the newest snapshot.
func (b *zoneBalancer) report(r estats.AsyncMetricsRecorder) {
	s := b.snap.Load()
	if s == nil {
		return
	}
	target := b.target
	spill := 0.0
	for i, z := range s.zones {
		r.RecordInt64AsyncGauge(zoneShareMetric, ppm(s.shares[i]), target, z)
		r.RecordInt64AsyncGauge(endpointsMetric, s.ready[i], target, z, "ready")
		r.RecordInt64AsyncGauge(endpointsMetric, s.others[i], target, z, "not_ready")
		if z != s.local {
			spill += s.shares[i]
		}
	}
	if s.local != "" {
		r.RecordInt64AsyncGauge(spillShareMetric, ppm(spill), target)
	}
	for _, m := range modes {
		v := int64(0)
		if m == s.mode {
			v = 1
		}
		r.RecordInt64AsyncGauge(modeMetric, v, target, m)
	}
}
