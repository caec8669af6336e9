package report

import (
	"fmt"
	"strings"
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

// relistSpread is the virtual-time re-list storm of
// resolver/internal/watchshare TestRelistStormSpread: peak re-lists per
// millisecond, with and without jitter, by how long the registry is away.
var relistSpread = []struct {
	outage               string
	withJitter, noJitter int
}{
	{"back immediately", 300, 6438},
	{"back after 2 s", 310, 639},
	{"back after 10 s", 166, 184},
}

func registrySection(b *strings.Builder, _ *Inputs) {
	b.WriteString("## Registry load\n\n")
	b.WriteString("One watch per (registry client, service, query) per process, shared by every channel that resolves it: " +
		"TestSharedWatch500Channels in resolver/etcd and resolver/consul open 500 channels to one service and assert that " +
		"the registry sees one watch. The load run against a real 3-member etcd and a Consul agent is not in the results yet.\n\n")
	b.WriteString("After a registry outage the shared watches re-list with jitter. Peak re-lists per millisecond on virtual time, " +
		"from resolver/internal/watchshare TestRelistStormSpread (a test, not a benchmark run; the figures are the test's):\n\n")
	b.WriteString("| registry | peak per ms, with jitter | peak per ms, without |\n|---|---:|---:|\n")
	for _, r := range relistSpread {
		fmt.Fprintf(b, "| %s | %d | %d |\n", r.outage, r.withJitter, r.noJitter)
	}
	b.WriteString("\n")
}
