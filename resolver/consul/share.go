package consul

import (
	"fmt"
	"slices"
)

// shareKey identifies what a target's blocking query asks the agent, so that
// the channels of one builder whose targets ask the same share one watcher.
// The builder holds the rest of the query: the agent's configuration and the
// token. Tags are sorted and deduplicated, since every one must match
// whatever their order; near and stale change the answer's order or
// consistency, so they are part of the key.
type shareKey struct {
	agent   string
	service string
	tags    string // sorted, deduplicated, each quoted, so no tag passes for two
	dc      string
	healthy bool
	near    string
	stale   bool
}

func keyOf(t target) shareKey {
	tags := slices.Clone(t.tags)
	slices.Sort(tags)
	return shareKey{
		agent: t.agent, service: t.service, tags: fmt.Sprintf("%q", slices.Compact(tags)),
		dc: t.dc, healthy: t.healthy, near: t.near, stale: t.stale,
	}
}
