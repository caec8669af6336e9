package consul

import (
	"net/url"
	"slices"
	"strconv"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// snapshot returns the snapshot of tgt, or nil when snapshots are off.
func (b *builder) snapshot(tgt target) (*kitresolver.Snapshot, error) {
	if b.cfg.snapshotDir == "" {
		return nil, nil
	}
	var opts []kitresolver.SnapshotOption
	if b.cfg.snapshotAge > 0 {
		opts = append(opts, kitresolver.SnapshotMaxAge(b.cfg.snapshotAge))
	}
	// The configured agent and datacenter decide the set of a target that
	// names none.
	base := b.baseConfig()
	if tgt.agent == "" {
		tgt.agent = configuredAgent(base)
	}
	if tgt.dc == "" {
		tgt.dc = base.Datacenter
	}
	return kitresolver.NewSnapshot(b.cfg.snapshotDir, tgt.snapshotID(), opts...)
}

// snapshotID identifies the set tgt resolves to, so that targets that may
// resolve to different sets (another agent, datacenter, health filter or tag
// set) never share a snapshot. Tags are sorted and deduplicated, since every
// one must match whatever their order. near and stale only order the answer
// or relax its consistency, so they are left out. A target never carries a
// token (parseTarget refuses one), so neither does the identity.
func (t target) snapshotID() string {
	q := url.Values{}
	if t.dc != "" {
		q.Set("dc", t.dc)
	}
	q.Set("healthy", strconv.FormatBool(t.healthy))
	if len(t.tags) > 0 {
		tags := slices.Clone(t.tags)
		slices.Sort(tags)
		q["tag"] = slices.Compact(tags)
	}
	return Scheme + "://" + t.agent + "/" + t.service + "?" + q.Encode()
}
