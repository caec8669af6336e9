// Package registrytest runs real registries for tests: embedded etcd (one
// member or a cluster whose members can be stopped and restarted), a Consul
// agent process in dev mode, and a TCP proxy that can pause, black-hole and
// drop the connections between a client and a registry.
//
// grpckit's own fault tests use it, and it is exported so services built on
// grpckit can test their registration and discovery against the same real
// components. Everything listens on loopback on free ports chosen at start.
//
// It works outside tests too, which makes it the quickest way to run a
// registry for local development: NewEtcdCluster, NewConsulAgent and
// NewProxy need no testing.T (StartEtcd, StartEtcdCluster and StartProxy are
// their test-scoped forms, stopped at cleanup), and Close stops them:
//
//	c, err := registrytest.NewEtcdCluster(dir, 1) // embedded, ~0.1 s to start
//	if err != nil { ... }
//	defer c.Close()
//	cli, err := c.NewClient() // or dial c.Endpoints() from another process
//
// The Consul agent binary is looked up in $CONSUL_BIN, then on $PATH, then in
// the cache that grpckit's `make consul` fills
// ($XDG_CACHE_HOME/grpckit/consul-<version>/consul).
package registrytest
