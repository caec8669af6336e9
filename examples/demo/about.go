package main

import "fmt"

// about says what a phase shows and what to look at in it. Its lines stay
// under 90 columns, so that the live view, which redraws itself by counting
// lines, never wraps.
func (d *demo) about(phase string) string {
	slow, limited := roleID("slow"), roleID("limited")
	switch phase {
	case "round_robin":
		return fmt.Sprintf("grpc-go's round_robin, for comparison: every backend gets the same share,\n"+
			"whatever its weight; %s rejects what exceeds its %g calls/s (rate-limited),\n"+
			"and %s's slow calls show in the p99.", limited, d.cfg.limit, slow)
	case "wrr":
		return "weighted round robin: shares follow the weights 3:2:1:1:1\n" +
			"(37.5, 25, 12.5, 12.5, 12.5 %), blind to latency and rejections."
	case "consistenthash":
		return fmt.Sprintf("consistent hash: each call carries one of %d user keys, and a user's calls\n"+
			"go to one backend, chosen by weight; the few later calls counted below went\n"+
			"elsewhere because their backend had more calls in flight than the bounded load\n"+
			"allows (1.25× the mean).", users)
	case "p2c":
		return fmt.Sprintf("power of two choices: each call goes to the cheaper of two backends drawn at\n"+
			"random (latency × calls in flight ÷ weight; a rejection costs 1s). Rate-limited %s\n"+
			"soon looks expensive: few calls, few rejections. Slow %s loses to every healthy\n"+
			"backend but wins when drawn against %s. At this light load latency outweighs\n"+
			"weights, so g1 and g2 get about the same.", limited, slow, limited)
	case "zoneaware":
		return fmt.Sprintf("zone-aware, wrr inside each zone: the client is in %s, whose backends can\n"+
			"take all its calls, so eu-1b gets none and g1 and g2 split them 3:2 (60, 40 %%).", localZone)
	case "outlier":
		return fmt.Sprintf("outlier ejection over wrr: %s now fails every call; after 5 failures in a row\n"+
			"it is ejected for 5s (a few failed calls, then none), and wrr shares the calls\n"+
			"among the others by weight.", failingID)
	case "breaker":
		return fmt.Sprintf("client circuit breaker, every call to %s alone: %s is the only backend that\n"+
			"answers, so the breaker opens once half of 20 or more calls failed and it has been\n"+
			"failing for %v (3s by default; shortened here), refuses calls without touching\n"+
			"the network, probes half-open, and closes once %s recovers half-way.",
			failingID, failingID, d.loneFor(), failingID)
	case "overload":
		return fmt.Sprintf("overload: %s, a backend in a process of its own, does %v of CPU work per\n"+
			"call; the demo measures what it serves, then sends it %d× that, open loop, with\n"+
			"%v deadlines. The server stack's adaptive limiter, configured with nothing,\n"+
			"sheds the excess at once (ResourceExhausted with a retry pushback), so the calls\n"+
			"it admits stay fast.",
			overloadedID, overloadWork, overloadFactor, overloadDeadline)
	case "kill":
		return fmt.Sprintf("wrr while %s shuts down as on SIGTERM (NOT_SERVING, deregister, drain, stop)\n"+
			"and restarts: the resolver drops it before it stops, so no call fails (but %s's\n"+
			"rejections), and lists it again once it is back.", killedID, limited)
	}
	return ""
}
