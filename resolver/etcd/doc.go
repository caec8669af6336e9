// Package etcd discovers gRPC servers through etcd: a resolver for targets
// etcd:///<service> and a registrar that announces a server under a lease.
//
// A server registers itself, and a client dials the service by name with a
// load-balancing policy that spreads calls over every instance:
//
//	kitresolver.SetServing(hs) // the grpc.health.v1 server, for health checkers
//	reg, err := etcd.Register(ctx, cli, kitresolver.Instance{Service: "greeter", Addr: "10.0.0.7:50051"})
//	...
//	hs.Shutdown() // on the way out: NOT_SERVING, out of etcd, then stop
//	dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
//	defer cancel()
//	err = reg.Deregister(dctx) // returns within the request timeout whatever dctx
//	srv.GracefulStop()
//
//	conn, err := grpc.NewClient("etcd:///greeter",
//		grpc.WithResolvers(etcd.NewBuilder(cli)),
//		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"grpckit_weighted_round_robin":{}}]}`),
//		grpc.WithTransportCredentials(creds))
//
// Without a loadBalancingConfig grpc-go uses pick_first, and every channel
// sends all its calls to the first address: import a grpckit balancer
// (balancer/wrr, p2c, consistenthash) or name grpc-go's round_robin. The
// address registered must be one clients can dial: Register refuses a
// listener's wildcard such as "[::]:50051", the lis.Addr().String() of a
// server listening on ":50051".
//
// # Registry format
//
// An instance lives at <prefix><service>/<instance-id> (prefix "/services/"
// by default, see WithPrefix; the id defaults to the address) with the value
//
//	{"addr":"10.0.0.7:50051","weight":3,"zone":"eu-1a","version":"1.4.2","metadata":{"k":"v"}}
//
// The resolver also reads a plain "host:port" value, and the JSON that etcd's
// client/v3/naming/endpoints Manager writes ({"Op":0,"Addr":...,"Metadata":...};
// a Metadata object becomes the Instance's Metadata, non-string values as
// their JSON text, and any other Metadata is dropped). So a service announced
// with endpoints.Manager under the target "/services/greeter" is served as
// etcd:///greeter.
//
// The reverse works too: etcd's own resolver (client/v3/naming/resolver)
// reads what Register writes, because Go's encoding/json matches "addr" and
// "metadata" to its Addr and Metadata fields regardless of case and an
// absent Op means an addition. Dial etcd:////services/greeter with etcd's
// builder; it sees the addresses but not the weights or zones.
//
// A value that does not decode to a valid Instance (broken JSON, a weight
// outside 0..kitresolver.MaxWeight, a missing or malformed address, an id
// with a "/") is skipped with a rate-limited warning naming its key; if the
// key held a good instance before, that instance stays. Two instances with
// one address are served once, by the smaller id.
//
// # Resolver
//
// The resolver reads the service's keys at a linearizable revision, publishes
// them, and watches from the next revision with WithRequireLeader, so a
// member cut off from its cluster's leader is abandoned. Each event updates
// the sorted endpoint list in place of a rebuild. On any watch failure
// (error, cancellation, compaction, a closed channel) it lists again, after
// a jittered exponential backoff, and replaces the whole set; meanwhile the
// channel keeps serving the last good set, and an error is reported to the
// channel only if no set was ever published. A service with no instances is
// published as an empty set, so RPCs fail fast with Unavailable; an error never
// empties the set. Right after an outage (the first list after a watch
// failure, and for WithRecoveryGrace after it) an empty set is held back: the
// registrations' leases may have expired while etcd was away, and their
// registrars write the keys again moments after it is back, so the channel
// keeps its last set meanwhile; any instance that appears is published at
// once, and a set still empty when the grace ends is published then. A state the channel rejects is offered again after a
// backoff, unless it is empty: grpc-go's balancers reject an empty list
// (balancer.ErrBadResolverState) yet the channel has it, so it is published
// once and not again while the service stays empty. Build never blocks, and
// the Close of the last channel sharing the watch (see below) stops it and
// waits for it. ResolveNow, which gRPC calls on every failed connection, does nothing:
// a live watch keeps the set current, and after an error the service is
// listed again at most once per backoff step, as grpc-go's DNS resolver does,
// so etcd is not re-listed many times a second when etcd and the backends
// fail together.
//
// Each endpoint carries its Instance (kitresolver.InstanceFrom) and grpc-go's
// weight attribute.
//
// # One watch per service
//
// Every channel of one builder that resolves a service shares one watch:
// etcd sees one watcher per builder and service, however many channels (one
// per worker, per tenant, per test) dial it. The first channel starts the
// watch; a channel that joins later gets its current set (or, before the
// first answer, its error) when Build returns; the last one to close stops it
// (an idle channel, grpc.WithIdleTimeout, closes its resolver and rebuilds it
// when it wakes, joining the watch again). Everything above holds for every
// channel sharing the watch: one failure keeps every channel on the last good
// set, one list serves them all, and no channel's ResolveNow makes the watch
// list sooner than its backoff allows. Each channel keeps its own state: a
// state one channel rejects is offered again to that channel alone. The
// channels of a watch share one snapshot, which a set is written to once.
// Builders share nothing: use one builder per etcd client, else each
// builder runs a watch of its own.
//
// After a registry restart or outage the re-lists of many processes are
// spread: the first retry after a working watch breaks waits its backoff step
// plus a uniformly random wait of up to one second (up to WithBackoff's Max
// when that is shorter), so processes that lost etcd in the same instant come
// back over a second rather than within a few milliseconds; later retries of
// a long outage keep that spread and each step's own ±jitter adds to it. The
// bound: a process lists again at most one backoff step after etcd answers
// again (Max·(1+Jitter), 12 s by default; Base·(1+Jitter) plus 1 s for the
// first retry), keeping its last good set meanwhile.
//
// # Cold start from a snapshot
//
// With WithSnapshotDir the resolver also writes every set the channel accepts
// to a file in that directory, one per service key (see kitresolver.Snapshot:
// JSON, mode 0600, replaced atomically; a failed write is logged and changes
// nothing else). A client started while etcd is unreachable then serves that
// last good set instead of failing: if etcd has not answered within
// kitresolver.SnapshotGrace (a request to a stopped cluster waits for its
// request timeout), or a request failed first, the snapshot's valid instances
// are published with the state marked stale (kitresolver.IsStale) and one
// warning says so and how old the snapshot is. etcd's first answer replaces
// it, is not stale, and is written to the file; a snapshot never overrides an
// answer, and an empty answer is still published empty. An empty answer is
// written too, even though the balancer rejects it, so a cold start after a
// scale to zero serves nothing instead of servers that are gone. A snapshot
// older than WithSnapshotMaxAge (kitresolver.DefaultSnapshotMaxAge by
// default) is not served. A missing file (the first start) is not an error,
// a broken one is logged and ignored. Give each etcd cluster its own
// directory.
//
// # Registrar
//
// Register grants a lease (WithTTL, 10 s by default), writes the key and
// keeps the lease alive from its own goroutine. When the lease is lost (etcd
// unreachable for longer than the TTL, the lease expired or revoked) or the
// key is deleted by someone else, it writes the key again, reusing the lease
// if etcd still has it and granting a new one otherwise, with jittered
// backoff, until Deregister. WithStateFunc reports lost and restored. A new
// lease is recorded as soon as it is granted, so a Deregister that races a
// restore finds the key's lease. When Register's first write fails after the
// lease was granted, Register returns the error at once and revokes that
// lease in the background within the request timeout, so neither it nor a
// key the write may have left outlives the failure by a whole TTL.
//
// Deregister deletes the key and revokes the lease, and returns within the
// request timeout whatever context it is given: with etcd unreachable, a
// shutdown's Deregister(context.Background()) gives up with an error saying
// the key expires with its lease (within the TTL) instead of hanging. Calls
// may overlap; each honours its own context.
//
// # Options
//
// NewBuilder takes Options, Register takes RegisterOptions, and a
// CommonOption is both (WithPrefix, WithBackoff, WithRequestTimeout), so a
// resolver and a registrar can share one list and cannot disagree on the
// prefix:
//
//	common := []etcd.CommonOption{etcd.WithPrefix("/prod/"), etcd.WithRequestTimeout(2 * time.Second)}
//
// Package consul has the same style, and the same names for what both have:
// WithBackoff and WithRequestTimeout (CommonOption in both), WithSnapshotDir
// and WithSnapshotMaxAge (resolver only). A function type per side could
// not let one option serve both, which is why options are interfaces. An
// invalid option makes every Build and Register fail with an error that
// names it.
//
// # Serving status
//
// etcd has no health checks of its own: Register announces the instance at
// once. A server that also serves grpc.health.v1 (for grpc-go's client-side
// health checking, a load balancer or Kubernetes probes) marks itself with
// kitresolver.SetServing once it listens, and calls Shutdown on its health
// server before Deregister when it stops.
//
// # Connecting to etcd
//
// TLS and authentication belong to the *clientv3.Client you pass in: set
// clientv3.Config's TLS (a *tls.Config, e.g. from
// go.etcd.io/etcd/client/pkg/v3/transport.TLSInfo{CertFile, KeyFile,
// TrustedCAFile}.ClientConfig()) and Username and Password. This package
// reads no environment variables; map ETCDCTL_ENDPOINTS, ETCDCTL_CACERT,
// ETCDCTL_CERT, ETCDCTL_KEY, ETCDCTL_USER and ETCDCTL_PASSWORD onto those
// fields yourself if you use them. Passwords never reach this package's logs
// or errors. Also set DialKeepAliveTime (at least etcd's
// --grpc-keepalive-min-time, 5 s by default, or etcd closes the connection)
// and DialKeepAliveTimeout so that a black-holed member is detected and the
// watch moves to another one, and consider a short grpc.ConnectParams backoff in
// DialOptions so the client reconnects quickly after an outage.
package etcd
