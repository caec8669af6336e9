// Package lbinfo is the small, neutral contract by which grpckit's balancer
// pickers tell a debug page (package debugz) what they know of each
// endpoint: its weight, its cost, its ejection and its zone. It depends on
// nothing but grpc-go, so a balancer can implement it without importing
// anything that serves HTTP.
//
// # Composition
//
// debugz wraps the top policy of a channel only (debugz → outlier → wrr,
// say), so it sees only the top picker. Details of policies nested below
// reach it because every parent picker that implements EndpointDetailer
// includes its child pickers' details:
//
//	func (p *picker) EndpointDetails() []lbinfo.EndpointDetail {
//		return lbinfo.Merge(lbinfo.Of(p.child), p.ownDetails())
//	}
//
// Of returns a picker's details, or nil when it does not implement the
// interface. Merge lays the parent's own details over its child's, address
// by address: a non-zero field the parent sets wins (outlier's EjectedUntil,
// zoneaware's Zone), the child's other fields stay (wrr's Weight, p2c's
// Cost), and addresses only one side knows are kept. A parent with several
// children (zoneaware: one per zone) concatenates their details first.
//
// Details are computed when a page renders, never on the pick path: a
// picker's Pick must not pay for them.
package lbinfo
