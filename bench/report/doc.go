// Package report turns the raw results of scripts/bench.sh into
// docs/PERFORMANCE.md and its plots: it parses `go test -bench` output,
// takes the median of each benchmark's runs, computes the ratio of every
// grpckit path to the anchor measured beside it in the same run, checks each
// against the targets of the design's performance table, and renders the
// tables, the machine, and gonum/plot charts.
//
// Nothing in the generated files is edited by hand: the targets, the pairs
// of benchmarks they compare and the analysis shown when a target is missed
// live in rows.go. The overload sections come from overload.json and
// clientoverload.json (bench/cmd/overload, bench/cmd/clientoverload); notes
// written on a particular run go beside it in the results directory
// (overload.md, and clientoverload.md, used only while clientoverload.json
// is missing), and scripts/bench.sh publish drops them with a new run. A
// row whose Requires benchmarks are missing from the results reports its
// pairs as not measured instead of judging older benchmarks of the same name.
package report
