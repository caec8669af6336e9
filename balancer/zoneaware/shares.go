package zoneaware

// zoneLoad is what the routing rule knows of one zone: the summed weight of
// its endpoints, and of those READY.
type zoneLoad struct {
	zone         string
	total, ready float64
}

// Routing modes, for logs and tests.
const (
	modeLocal   = "local"      // everything to the local zone
	modeSpill   = "spill-over" // the local zone takes what it can, the rest spills
	modePanic   = "panic"      // too few READY endpoints: zones ignored
	modeAny     = "any-zone"   // no local zone, or too small a cluster: zones ignored
	modeNoReady = "none-ready" // nothing READY: spread by size, children queue or fail
)

// shares decides which share of picks each zone gets, following Envoy's
// zone-aware routing with the client population assumed to be spread over
// the zones like the endpoints are:
//
//   - With nothing READY, zones get shares by total weight (modeNoReady).
//   - When the READY share of all endpoint weight is under panicThreshold,
//     when the local zone is unknown or has no endpoints, or when there are
//     fewer than minClusterSize endpoints, zones get shares by READY weight,
//     so every READY endpoint gets the same traffic (modePanic, modeAny).
//   - When the local zone's share of the READY weight is at least its share
//     of the total weight, which is the share of the traffic that originates
//     in it, it takes everything (modeLocal).
//   - Otherwise it takes readyShare/totalShare of the traffic, and the rest
//     goes to the other zones in proportion to their spare capacity,
//     readyShare-totalShare, where positive (modeSpill).
//
// The returned shares sum to 1.
func shares(loads []zoneLoad, local string, panicThreshold float64, endpoints, minClusterSize int) ([]float64, string) {
	var total, ready float64
	li := -1
	for i, l := range loads {
		total += l.total
		ready += l.ready
		if l.zone == local && local != "" && l.total > 0 {
			li = i
		}
	}
	switch {
	case ready == 0:
		return proportional(loads, func(l zoneLoad) float64 { return l.total }), modeNoReady
	case ready/total < panicThreshold: // not ready < t×total, which rounds up at the boundary
		return byReady(loads), modePanic
	case li < 0 || endpoints < minClusterSize:
		return byReady(loads), modeAny
	}
	localTotal, localReady := loads[li].total/total, loads[li].ready/ready
	out := make([]float64, len(loads))
	if localReady >= localTotal {
		out[li] = 1
		return out, modeLocal
	}
	out[li] = localReady / localTotal
	spill(out, loads, li, total, ready)
	return out, modeSpill
}

// spill gives 1-out[li] to the zones other than li in proportion to their
// spare capacity.
func spill(out []float64, loads []zoneLoad, li int, total, ready float64) {
	var spare float64
	for i, l := range loads {
		if i != li {
			spare += max(l.ready/ready-l.total/total, 0)
		}
	}
	rest := 1 - out[li]
	for i, l := range loads {
		if i == li {
			continue
		}
		if spare > 0 {
			out[i] = rest * max(l.ready/ready-l.total/total, 0) / spare
		} else { // rounding: no zone shows spare capacity
			out[i] = rest * l.ready / (ready - loads[li].ready)
		}
	}
}

func byReady(loads []zoneLoad) []float64 {
	return proportional(loads, func(l zoneLoad) float64 { return l.ready })
}

func proportional(loads []zoneLoad, f func(zoneLoad) float64) []float64 {
	var sum float64
	for _, l := range loads {
		sum += f(l)
	}
	out := make([]float64, len(loads))
	for i, l := range loads {
		if sum > 0 {
			out[i] = f(l) / sum
		}
	}
	return out
}
