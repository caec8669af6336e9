//go:build !unix

package shedding

import "time"

// processCPU returns -1: on this system the limiter does not read the
// process's CPU time, and takes the calls' latency for their cost.
func processCPU() time.Duration { return -1 }
