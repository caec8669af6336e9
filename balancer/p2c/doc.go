// Package p2c is a gRPC load-balancing policy that sends each call to the
// less loaded of two READY endpoints drawn at random ("power of two choices"),
// where load is the endpoint's peak-EWMA latency × (calls in flight + 1) ÷
// weight. Slow backends and backends with queues get less traffic as soon as
// they answer slowly; a call is never sent to the most loaded endpoint unless
// it is one of only two.
//
// The policy registers itself as Name; Policy builds the service config
// that selects it, checked by the policy's parser (see package lbconfig):
//
//	conn, err := grpc.NewClient(target, grpc.WithResolvers(b), lbconfig.Must(p2c.Policy()).DialOption())
//
// In JSON it is {"loadBalancingConfig":[{"grpckit_p2c":{}}]}, and the
// options below are the fields decayTime, errorPenalty and slowStartWindow.
//
// The latency estimate takes a slower answer at once and decays towards zero
// with the configured decay time (WithDecayTime, default 10s), so an endpoint that gets no
// traffic is tried again. Changing decayTime in a live configuration keeps
// every endpoint's current estimate, which then decays with the new value.
// ResourceExhausted and Unavailable answers count as
// at least the error penalty (WithErrorPenalty, default 1s), so a backend that fails fast does not
// look fast; answers to calls the caller cancelled do not count. A new
// endpoint starts at the mean estimate of the others. Per-endpoint load lives
// in the balancer and survives picker rebuilds. Durations that make no sense
// are refused with the reason: decayTime outside [100ms, 1h], a positive
// errorPenalty under 1ms, a positive slowStartWindow under 1s (see
// MinDecayTime and the other bounds).
//
// Weights come from the endpoint's Instance (see resolver.WeightOf), else
// grpc-go's weight attribute, else 1, and at most resolver.MaxWeight. With
// WithSlowStartWindow(30*time.Second) an endpoint that becomes READY starts at a tenth
// of its weight and ramps up linearly over the window, restarting if it
// leaves READY.
//
// Pick takes no lock and allocates nothing: random numbers come from
// math/rand/v2's per-thread generator, load from atomics, and only one pick in
// sixteen reads the clock to measure latency (every failure is charged).
//
// # Metrics
//
// The policy reports, through the channel's stats plugin (for example
// grpc-go's stats/opentelemetry), gauges read from Pick's own atomics when the
// plugin collects, so Pick pays nothing for them: grpckit.lb.p2c.endpoint_cost
// (ns: the decayed latency estimate × (in flight + 1) ÷ effective weight, the
// figure Pick compares) and grpckit.lb.p2c.endpoint_in_flight, labelled
// grpc.target and grpckit.lb.endpoint (the endpoint's address), and
// grpckit.lb.p2c.ready_endpoints. Like gRPC's own load-balancing metrics they
// are off by default; name them in the plugin's metric set:
//
//	opentelemetry.DialOption(opentelemetry.Options{MetricsOptions: opentelemetry.MetricsOptions{
//		MeterProvider: mp,
//		Metrics: opentelemetry.DefaultMetrics().Add("grpckit.lb.p2c.endpoint_cost",
//			"grpckit.lb.p2c.endpoint_in_flight", "grpckit.lb.p2c.ready_endpoints"),
//	}})
package p2c
