package lbinfo_test

import (
	"fmt"
	"time"

	"github.com/grpckit/grpckit/balancer/lbinfo"
)

// A parent policy's picker lays what it knows (an ejection) over its child
// picker's details (weights).
func ExampleMerge() {
	child := []lbinfo.EndpointDetail{{Addr: "10.0.0.1:443", Weight: 3}, {Addr: "10.0.0.2:443", Weight: 1}}
	until := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	own := []lbinfo.EndpointDetail{{Addr: "10.0.0.2:443", EjectedUntil: until}}
	for _, d := range lbinfo.Merge(child, own) {
		fmt.Println(d.Addr, d.Weight, d.EjectedUntil.Format(time.RFC3339))
	}
	// Output:
	// 10.0.0.1:443 3 0001-01-01T00:00:00Z
	// 10.0.0.2:443 1 2030-01-01T12:00:00Z
}
