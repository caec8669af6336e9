// Package zoneaware provides the grpckit_zone_aware load-balancing policy:
// it keeps a client's calls inside its own zone (availability zone, rack,
// data centre) while that zone can take them, and spills over to the other
// zones in proportion when it cannot, without a service mesh or xDS.
//
// Importing the package registers the policy. Policy builds the service
// config that selects it, with any policy as the child that balances inside
// a zone, checked by the policies' parsers (see package lbconfig):
//
//	lb, err := zoneaware.Policy(lbconfig.Must(p2c.Policy()), zoneaware.WithLocalZone("eu-1a"))
//	...
//	conn, err := grpc.NewClient(target, grpc.WithResolvers(b), lb.DialOption())
//
// In JSON, with every field:
//
//	{"loadBalancingConfig":[{"grpckit_zone_aware":{
//	    "localZone":"eu-1a", "panicThreshold":0.5, "minClusterSize":0,
//	    "childPolicy":[{"grpckit_p2c":{}},{"round_robin":{}}]}}]}
//
// Every field is optional. The zone of an endpoint is the Zone of the
// grpckit resolver Instance it carries (see resolver.ZoneOf); endpoints
// without one form the zone "". The local zone is, in order: localZone in
// the configuration, SetLocalZone, the GRPCKIT_LOCAL_ZONE environment
// variable. The child defaults to round_robin; the first registered policy
// of the list is used, and may not be grpckit_zone_aware itself (a zone's
// child sees only that zone). panicThreshold is in [0, 1]; a configuration
// outside these bounds is refused with an error naming the field.
//
// The policy runs one child per zone and picks a zone per call by shares it
// recomputes whenever an endpoint becomes READY or stops being READY (an
// endpoint counts its weight, resolver.WeightOf). An address that endpoints
// of several zones share counts, in each zone, for that zone's endpoint. The rule is Envoy's
// zone-aware routing, with the clients assumed to be spread over the zones
// like the endpoints are, so a zone's traffic share is its share of all
// endpoint weight:
//
//   - If the READY share of all endpoint weight is under panicThreshold
//     (default 0.5; 0 disables), if there are fewer endpoints than
//     minClusterSize, or if the local zone is unknown or has no endpoints,
//     zones are ignored: each zone gets its share of the READY weight, so
//     every READY endpoint sees the same traffic.
//   - If the local zone's share of the READY weight is at least its traffic
//     share, it gets every call.
//   - Otherwise it gets readyShare/trafficShare of the calls, and the rest
//     goes to the other zones in proportion to their spare capacity, the
//     amount by which their READY share exceeds their traffic share.
//   - With nothing READY, zones get shares by size, and the children queue
//     or fail the calls as they would alone.
//
// So with two endpoints in each of zones a, b and c, a client in a sends
// everything to a; when one of a's endpoints goes down, a's READY share is
// 1/5 against a traffic share of 1/3, so it keeps 60% of the calls and b and
// c get 20% each, which gives every live endpoint the same load.
//
// Outlier ejection composes with zones in either order, and an ejected
// endpoint counts as not READY in both. As the child
// ({"childPolicy":[{"grpckit_outlier_ejection":{...}}]}), each zone has an
// outlier policy of its own, so maxEjectionPercent applies per zone; the
// outlier policy tells this one which endpoints it ejected, and the zone's
// share falls as if they were down. As the parent
// ({"grpckit_outlier_ejection":{"childPolicy":[{"grpckit_zone_aware":{...}}]}}),
// one ejection budget covers every zone, and ejections reach this policy as
// the health of the endpoints. Any other ejecting child, such as gRPC's own
// outlier_detection, or a policy wrapping SubConns between this one and
// grpckit's outlier child, hides its ejections from the READY counts: the
// zone keeps its full share while its other endpoints take it.
//
// The picker draws one random number per call to choose the zone, then calls
// that zone's child picker: no lock and no allocation.
//
// # Metrics
//
// The policy reports, through the channel's stats plugin (for example
// grpc-go's stats/opentelemetry), gauges read when the plugin collects from a
// snapshot of the routing decision taken when the picker is built, so Pick
// pays nothing for them: grpckit.lb.zoneaware.zone_share (ppm of picks per
// zone, labelled grpckit.lb.zone), grpckit.lb.zoneaware.spill_share (ppm of
// picks leaving the local zone), grpckit.lb.zoneaware.mode (1 for the current
// mode among local, spill-over, panic, any-zone and none-ready, labelled
// grpckit.lb.zoneaware.mode) and grpckit.lb.zoneaware.endpoints (per zone,
// labelled grpckit.lb.endpoint_state ready or not_ready), all labelled
// grpc.target. Like gRPC's own load-balancing metrics they are off by
// default; name them in the plugin's metric set:
//
//	opentelemetry.DialOption(opentelemetry.Options{MetricsOptions: opentelemetry.MetricsOptions{
//		MeterProvider: mp,
//		Metrics: opentelemetry.DefaultMetrics().Add("grpckit.lb.zoneaware.zone_share",
//			"grpckit.lb.zoneaware.spill_share", "grpckit.lb.zoneaware.mode", "grpckit.lb.zoneaware.endpoints"),
//	}})
package zoneaware
