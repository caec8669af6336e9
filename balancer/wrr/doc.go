// Package wrr is a gRPC load-balancing policy that spreads calls over a
// service's READY endpoints in proportion to their weights, with nginx's smooth
// weighted round robin: for weights 5, 1, 1 the order is a a b a c a a, never
// the heavy endpoint five times in a row.
//
// Weights are static: an endpoint's Instance weight as grpckit's resolvers set
// it (see resolver.WeightOf), else grpc-go's weight attribute, else 1, and at
// most resolver.MaxWeight whatever the endpoint claims. The policy registers
// itself as Name; Policy builds the service config that selects it, checked
// by the policy's parser (see package lbconfig):
//
//	conn, err := grpc.NewClient(target, grpc.WithResolvers(b), lbconfig.Must(wrr.Policy()).DialOption())
//
// In JSON it is {"loadBalancingConfig":[{"grpckit_weighted_round_robin":{}}]}.
//
// Each endpoint gets a pickfirst child through grpc-go's endpointsharding, as
// grpc-go's own round_robin does. Pickers are immutable snapshots holding one
// precomputed period of the sequence: Pick is an atomic increment and a table
// lookup, takes no lock, allocates nothing, and costs the same at 10 or 1000
// endpoints. A new picker (an endpoint going READY or not, a weight change)
// continues at the same point of its period as the one it replaces, so
// rebuilds do not favour the endpoints early in the period.
//
// With WithSlowStartWindow(30*time.Second) ({"slowStartWindow":"30s"}) an endpoint that becomes READY starts at a
// tenth of its weight and ramps up linearly over the window; an endpoint that
// leaves READY and returns starts again. Slow start is off by default; a
// window under MinSlowStartWindow (1s) is refused.
//
// # Metrics
//
// The policy reports, through the channel's stats plugin (for example
// grpc-go's stats/opentelemetry), two gauges read when the plugin collects,
// so Pick pays nothing for them: grpckit.lb.wrr.endpoint_weight, the
// effective weight (after slow start) of each READY endpoint, labelled
// grpc.target and grpckit.lb.endpoint (its address), whose share of the sum
// is the endpoint's share of picks; and grpckit.lb.wrr.ready_endpoints. Like
// gRPC's own load-balancing metrics they are off by default:
//
//	opentelemetry.DialOption(opentelemetry.Options{MetricsOptions: opentelemetry.MetricsOptions{
//		MeterProvider: mp,
//		Metrics: opentelemetry.DefaultMetrics().Add("grpckit.lb.wrr.endpoint_weight", "grpckit.lb.wrr.ready_endpoints"),
//	}})
package wrr
