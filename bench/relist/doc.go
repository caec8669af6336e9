// Package relist simulates, on virtual time, a fleet of processes whose
// registry watches all break at the same instant (a registry restart or
// outage) and re-list when it answers again: how many re-lists reach the
// registry per millisecond with the watchers' spread first retry
// (internal/relist.Delay, the code the resolvers run) and with the backoff
// alone. bench/cmd/relist writes the results; bench/report turns them into
// the registry section of docs/PERFORMANCE.md and its plot.
package relist
