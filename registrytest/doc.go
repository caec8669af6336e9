// Package registrytest runs real registries for tests: embedded etcd (one
// member or a cluster whose members can be stopped and restarted), a Consul
// agent process in dev mode, and a TCP proxy that can pause, black-hole and
// drop the connections between a client and a registry.
//
// grpckit's own fault tests use it, and it is exported so services built on
// grpckit can test their registration and discovery against the same real
// components. Everything listens on loopback on free ports chosen at start.
//
// The Consul agent binary is looked up in $CONSUL_BIN, then on $PATH, then in
// the cache that grpckit's `make consul` fills
// ($XDG_CACHE_HOME/grpckit/consul-<version>/consul).
package registrytest
