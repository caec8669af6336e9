// Package chash measures grpckit's consistent-hash policy from the outside,
// through its registered balancer and real pickers: how evenly keys spread
// over the endpoints (max/mean), how evenly requests in flight spread with
// bounded loads, how many keys move when one of N endpoints is removed,
// against the theoretical 1/N, and, with MeasureChange, when the fleet grows
// by one or one endpoint's weight doubles; in every case no key may move
// between endpoints that did not change (MovedElsewhere).
//
// The balance figures count sampled keys, so they include sampling noise: a
// perfectly even table shows a key-count max/mean of about
// 1 + √(2 ln N · N / keys); NoiseFloor reports that figure beside each result.
package chash
