// Package report turns the raw results of scripts/bench.sh into
// docs/PERFORMANCE.md and its plots: it parses `go test -bench` output,
// takes the median of each benchmark's runs, computes the ratio of every
// grpckit path to the anchor measured beside it in the same run, checks each
// against the targets of the design's performance table, and renders the
// tables, the machine, and gonum/plot charts.
//
// Nothing in the generated files is edited by hand: the targets, the pairs
// of benchmarks they compare and the analysis shown when a target is missed
// live in rows.go.
package report
