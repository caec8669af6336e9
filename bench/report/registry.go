package report

import (
	"slices"
	"strings"

	"github.com/grpckit/grpckit/bench/relist"
)

// registryChecks: no load run against real registries is in the results
// yet; the tests that count the registry's watches are the evidence.
func registryChecks(*Inputs) []Check {
	return []Check{{
		Label:    "one watch for 500 channels",
		Measured: "tested, not benchmarked: TestSharedWatch500Channels (resolver/etcd, resolver/consul)",
		Target:   "1 registry watch",
		Status:   NotMeasured,
		Note: "the tests assert the registry sees one watch (etcd: the server's watcher count; Consul: the agent's requests) " +
			"for 500 channels; the load run (requests per second and resolver CPU for 1, 100 and 1,000 channels) is not in the results",
	}}
}

// RelistFile is what bench/cmd/relist writes.
const RelistFile = "relist.json"

func registrySection(b *strings.Builder, in *Inputs, plots []string) {
	b.WriteString("## Registry load\n\n")
	b.WriteString("One watch per (registry client, service, query) per process, shared by every channel that resolves it: " +
		"TestSharedWatch500Channels in resolver/etcd and resolver/consul open 500 channels to one service and assert that " +
		"the registry sees one watch. The load run against a real 3-member etcd and a Consul agent is not in the results yet.\n\n")
	if in.Relist == nil {
		b.WriteString("The re-list simulation (bench/cmd/relist) is not in the results.\n\n")
		return
	}
	b.WriteString(relist.Markdown(in.Relist, slices.Contains(plots, relist.PlotFile)))
}
