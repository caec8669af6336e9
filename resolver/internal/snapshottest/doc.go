// Package snapshottest holds what the etcd and Consul end-to-end tests of the
// cold-start snapshot share: a resolver.Builder that records what its
// resolvers tell the channel, and reads of the snapshot file as the
// resolvers leave it on disk.
package snapshottest
