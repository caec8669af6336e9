package main

import "fmt"

// about says what a phase shows and what to look at in it.
func (d *demo) about(phase string) string {
	slow, limited := roleID("slow"), roleID("limited")
	switch phase {
	case "round_robin":
		return fmt.Sprintf("grpc-go's round_robin, for comparison: every backend gets the same share, whatever its weight;\n"+
			"%s rejects what exceeds its %g calls/s (rate-limited), and %s's slow calls show in the p99.", limited, d.cfg.limit, slow)
	case "wrr":
		return "weighted round robin: shares follow the weights 3:2:1:1:1 (37.5, 25, 12.5, 12.5, 12.5 %),\n" +
			"blind to latency and rejections."
	case "consistenthash":
		return fmt.Sprintf("consistent hash: each call carries one of %d user keys, and a user's calls go to one backend, chosen by weight;\n"+
			"the few users counted below moved because their backend had more calls in flight than the bounded load allows (1.25× the mean).", users)
	case "p2c":
		return fmt.Sprintf("power of two choices: each call goes to the cheaper of two backends drawn at random (latency × calls in flight ÷ weight,\n"+
			"a rejection costing 1s): rate-limited %s soon looks expensive and gets few calls and few rejections; slow %s loses to\n"+
			"every healthy backend but wins when drawn against %s; at this light load latency outweighs weights, so g1 and g2 get about the same.",
			limited, slow, limited)
	case "zoneaware":
		return fmt.Sprintf("zone-aware, wrr inside each zone: the client is in %s, whose backends can take all its calls,\n"+
			"so eu-1b gets none and g1 and g2 split them 3:2 (60, 40 %%) by weight.", localZone)
	case "outlier":
		return fmt.Sprintf("outlier ejection over wrr: %s now fails every call; after 5 failures in a row it is ejected for 5s\n"+
			"(a few failed calls, then none) and wrr shares the calls among the others by weight.", failingID)
	case "breaker":
		return fmt.Sprintf("client circuit breaker, every call to %s alone: the breaker opens after its failures and refuses calls\n"+
			"without touching the network, probes half-open, and closes once %s recovers half-way.", failingID, failingID)
	case "kill":
		return fmt.Sprintf("wrr while %s shuts down as on SIGTERM (NOT_SERVING, deregister, drain, stop) and restarts:\n"+
			"the resolver drops it before it stops, so no call fails (but %s's rejections), and lists it again once it is back.", killedID, roleID("limited"))
	}
	return ""
}
