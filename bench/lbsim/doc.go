// Package lbsim measures how load-balancing policies cope with one slow
// backend: eleven backends answer in 5–15 ms and one of them turns ten times
// slower for the middle third of the run, while requests arrive at a fixed
// rate (open loop). It runs the scenario two ways:
//
//   - Simulate, a discrete-event simulation on virtual time: the policies'
//     real pickers, built on a fake ClientConn, pick; a seeded generator
//     draws the arrivals' keys and the backends' latencies; each pick's Done
//     is called when its simulated response is due. It must run inside a
//     testing/synctest bubble, whose fake clock is the one p2c reads, and
//     takes a second or two for two minutes of virtual time. TestSimulation
//     runs it and, with -lbsim.out, writes the results for the report.
//   - Loopback, the same scenario against real gRPC servers on 127.0.0.1
//     with a real client channel, in real time.
//
// The inputs are deterministic; p2c draws its two candidates from the
// runtime's generator, so its figures vary a little from run to run.
package lbsim
