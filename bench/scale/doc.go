// Package scale holds benchmarks of how grpckit's update path grows with the
// size of a service: one registry change reaching the etcd resolver's
// UpdateState with 10, 1k and 10k instances registered (beside the raw etcd
// watch event for the same put), and one resolver update turning into a new
// picker in each balancer (beside grpc-go's round_robin). It has no API; run
//
//	go test -run '^$' -bench . -benchmem ./bench/scale
package scale
