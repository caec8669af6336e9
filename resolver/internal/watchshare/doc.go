// Package watchshare shares one registry watch among every channel of a
// process that resolves the same thing.
//
// A resolver builder keeps a Group keyed by what decides the answer (the
// service, the query parameters; the builder itself holds the registry
// client and its credentials). Build calls Group.Join: the first channel of
// a key starts the watch, later ones subscribe to the running one and get
// its current state at once, and the last one to leave stops it and waits for
// its goroutines. The watch publishes to the Hub; every member forwards each
// state to its own channel through its own kitresolver.Publisher, so the
// rules of the Publisher (keep the last good set on errors, publish empty
// only as the registry's answer, snapshots) hold for every sharer.
//
// A channel that rejects a non-empty state (its UpdateState returns an error)
// is offered the newest state again after a backoff, by its member alone:
// one channel's balancer never makes the shared watch read the registry
// again.
//
// Lock order: Group.mu, then Hub.mu. A Member's mu is held across calls into
// its Publisher (hence its channel) and is never held with either of the
// others; no channel is called with Group.mu or Hub.mu held.
package watchshare
