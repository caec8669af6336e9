// Package outlier provides the grpckit_outlier_ejection load-balancing
// policy: per-endpoint circuit breaking for a plain gRPC client. It wraps any
// child policy, watches the result of every RPC sent to each endpoint, and
// takes an endpoint that keeps failing out of the child's rotation for a
// while, without a service mesh or xDS.
//
// Importing the package registers the policy. Policy builds the service
// config that selects it, around any child policy, checked by the policies'
// parsers (see package lbconfig); its options (WithConsecutiveFailures and
// the others) set the fields below:
//
//	lb, err := outlier.Policy(lbconfig.RoundRobin(), outlier.WithConsecutiveFailures(3))
//	...
//	conn, err := grpc.NewClient(target, grpc.WithResolvers(b), lb.DialOption())
//
// In JSON, with the defaults:
//
//	{"loadBalancingConfig":[{"grpckit_outlier_ejection":{
//	    "consecutiveFailures":5,
//	    "failureRateThreshold":0.5, "failureRateMinRequests":20,
//	    "interval":"10s", "baseEjectionTime":"30s", "maxEjectionTime":"300s",
//	    "maxEjectionPercent":50,
//	    "childPolicy":[{"round_robin":{}}]}}]}
//
// Every field is optional; the values above are the defaults, and the child
// defaults to round_robin. A configuration outside the bounds below is
// refused with an error that names the field and the reason. The fields:
//
//   - consecutiveFailures: eject an endpoint after this many failed RPCs in a
//     row, at once. 0 turns the rule off.
//   - failureRateThreshold, failureRateMinRequests: at the end of every
//     interval, eject an endpoint that served at least failureRateMinRequests
//     RPCs in it and whose share of failures was over the threshold (0 to 1).
//     A threshold of 0 turns the rule off. Successes are counted only from an
//     endpoint's first failure on (see the cost below): in the interval of
//     its first failure, the share is that of the RPCs since.
//   - interval: the counting window of the failure-rate rule, and how often
//     ejection history fades (see below). At least MinInterval (100ms).
//   - baseEjectionTime, maxEjectionTime: the n-th ejection in a row lasts
//     baseEjectionTime × n, at most maxEjectionTime. baseEjectionTime is at
//     least MinEjectionTime (100ms), maxEjectionTime at least
//     baseEjectionTime. A configuration that changes them applies to the
//     ejections in force, timed from their start.
//   - maxEjectionPercent: never more than this share of the endpoints is
//     ejected at once (rounded down: with 3 endpoints and 50, one). It
//     holds for every endpoint set: when endpoints leave, or a
//     configuration lowers it, the ejected endpoints over it whose
//     ejection ends first come back on probation. An endpoint whose
//     ejection was refused is ejected at its next failure once that is
//     allowed (other endpoints joined, or others returned).
//   - failureCodes: the status codes that count as failures, as names
//     ("UNAVAILABLE") or numbers. The default is UNKNOWN, DEADLINE_EXCEEDED,
//     RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE and DATA_LOSS; any other
//     code means the server answered, and counts as a success. The list
//     may not be empty, nor name OK or CANCELLED.
//   - childPolicy: a list of {"<policy>":{config}}; the first registered one
//     is used, as in loadBalancingConfig.
//
// A resolver error that comes before any endpoint fails calls with that
// error at once; later ones go to the child, which keeps serving the last
// endpoints.
//
// Results are read from the pick's Done callback. A call that ended with
// CANCELLED, as gRPC ends a call its caller cancelled, counts neither way.
// DEADLINE_EXCEEDED is a failure by default whoever's deadline passed: an
// endpoint that does not answer in the time its callers give it is failing
// them, and this is how a hung endpoint is found. A client whose deadlines
// are too short to judge its servers by leaves it out of failureCodes.
//
// An ejected endpoint is reported to the child as TRANSIENT_FAILURE, through
// the health listener pick_first leaves register (the policy asks them to),
// so its connection stays up; the child routes around it. A SubConn the child
// creates for an endpoint already ejected (after a child policy change, or
// under grpckit_zone_aware when the endpoint moves zone) is reported failed
// from its first state. When its time is
// over it comes back on probation: the first failure ejects it again, for
// longer. It leaves probation after an interval in which it served without
// failing, and each later interval without failures takes one from its count
// of ejections in a row.
//
// Under grpckit_zone_aware, which counts the READY endpoints of each zone to
// share calls between zones, the policy also tells zone_aware which
// endpoints it ejected, so a zone with an ejected endpoint gets a smaller
// share instead of its remaining endpoints taking the whole of it.
//
// The policy's picker implements lbinfo.EndpointDetailer, for debug pages
// (debugz): its child picker's details, merged (lbinfo.Merge) with the time
// each ejected endpoint's addresses are let back (EjectedUntil). They are
// computed under the policy's lock when a page asks, never on the pick path.
//
// Ejections are logged as warnings and returns as info on the
// "grpckit-outlier" grpclog component, and counted in the
// grpckit.lb.outlier.ejections, grpckit.lb.outlier.returns and
// grpckit.lb.outlier.ejections_refused metrics, which any gRPC stats plugin
// configured on the channel (such as grpc's OpenTelemetry plugin) exports.
//
// NewBuilder with WithName and WithClock builds a copy of the policy under
// another name that reads time from a Clock of the caller's, for tests;
// register it with balancer.Register in an init function.
//
// The policy adds to each pick a type assertion and its Done callback, with
// no lock and no allocation. A healthy endpoint's successes are not counted:
// its Done reads a line no RPC writes. From an endpoint's first failure until
// an interval ends in which it did not fail, after a success, each success
// is an atomic add. When the child policy sets a Done of its own, a pooled
// hook calls both.
package outlier
