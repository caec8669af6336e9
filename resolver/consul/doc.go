// Package consul connects gRPC-Go clients and servers through Consul: a
// resolver for targets of the form
//
//	consul://[agent-host:port]/<service>?tag=a&tag=b&dc=dc1&healthy=true&near=_agent&stale=false
//
// and a registrar that announces a server with Consul's native gRPC health
// check and keeps it announced.
//
// # Resolver
//
// NewBuilder returns the builder to pass to grpc.NewClient with
// grpc.WithResolvers. The resolver runs blocking queries on the
// agent's health endpoint for the service and publishes the instances, sorted
// by address, each carrying its kitresolver.Instance (ID, weight from
// Weights.Passing, or Weights.Warning for an instance in warning when the
// target allows unhealthy ones, zone and version from Meta) as a typed
// endpoint attribute. Consul allows weights up to 65535; a weight above
// kitresolver.MaxWeight (10000) is capped at it, and logged once, rather than
// dropping the instance. An entry that makes no valid instance (no port, a
// negative weight, an Address that holds a port as in "10.0.0.7:8080") is
// skipped and logged once; the others are served.
//
// Target parameters: tag (repeatable; every tag must match), dc, healthy
// (default true: only instances whose checks all pass; instances in
// maintenance are never served), near and stale. With near (such as
// near=_agent) the instances keep Consul's order, nearest first, instead of
// being sorted by address; only a policy that reads the order, such as
// pick_first, makes use of it (see Example_near). Without an authority the
// agent is the one the standard CONSUL_HTTP_ADDR names, else localhost:8500;
// token, token file, TLS and SSL come from the rest of the CONSUL_*
// environment or from options; a token file is read again when the agent
// refuses its token, so a rotated file is followed. A target carrying a token
// is refused: gRPC logs targets. The token is sent only as a header and never
// appears in logs or errors; one holding a control character fails Build.
//
// An agent named in a target replaces only the host and port of the
// configured address: the scheme (https from CONSUL_HTTP_ADDR=https://...,
// CONSUL_HTTP_SSL or the configured api.Config), the CA, the client
// certificate and the TLS server name stay, so the token never travels in
// clear to an agent the configuration says to reach over TLS. Since the
// token goes to whatever agent a target names, a client that has credentials
// (token or HTTP basic auth) only talks to the configured agent and to
// loopback agents unless WithAllowedAgents lists the others; a client without
// credentials may name any agent. WithAllowedAgents replaces that default by
// its list, whatever the credentials (the configured agent is always
// allowed); a refused agent fails the channel's RPCs with an error that names
// it.
//
// The resolver follows an HTTP redirect only to the scheme, host and port it
// asked: net/http would forward the X-Consul-Token header to any host a
// redirect names, plain http:// ones included, so a redirect elsewhere, or
// from https to http, fails the query instead. The policy is set on the
// resolver's own copy of a configured http.Client. The registrar uses the
// *api.Client it is given as it is (see Register).
//
// The resolver follows Consul's index rules: an index that goes backwards
// resets to 0, an index of 0 is treated as 1, and a query that brought no new
// data is followed by the next no sooner than WithMinQueryInterval, so a
// misbehaving agent cannot make it spin. Since 0 is treated as 1, an answer
// of index 0 to a query that waited on 1 is another 0, as an agent or proxy
// that always answers 0 gives, not a reset. Errors are retried with jittered
// backoff while the channel keeps the last good instances; an empty set is
// published only when Consul answers that the service has none, and right
// after the agent was unreachable or lost its state such an answer is held
// back for WithRecoveryGrace while registrars register again. A balancer that
// rejects the empty set (grpc-go's policies answer
// balancer.ErrBadResolverState) is not an error: the channel fails its RPCs
// fast with Unavailable and the blocking query goes on, so the first instance
// to come back is served at once.
//
// # One blocking query per query
//
// Every channel of one builder whose target asks the agent the same query
// (agent, service, the set of tags, dc, healthy, near and stale; the
// builder holds the configuration and the token) shares one watcher: the
// agent sees one blocking query at a time per builder and query, however
// many channels dial it. The agent policy is still checked for every
// channel. The first channel starts the watcher; a channel that joins later
// gets its current set (or, before the first answer, its error) when Build
// returns; the last one to close stops it (an idle channel,
// grpc.WithIdleTimeout, closes its resolver and joins again when it wakes).
// The rules above hold for every channel sharing the watcher: a failure
// keeps every channel on the last good set, and no channel's ResolveNow
// makes it query sooner than its backoff allows. Each channel keeps its own
// state: a state one channel rejects is offered again to that channel alone,
// without a new query. The channels of a watcher share one snapshot, which a
// set is written to once. Sharing also keeps a process under the
// agent's limit of concurrent connections per client (http_max_conns_per_client,
// 200 by default), which hundreds of unshared channels would pass.
//
// Consul's own answer to many clients asking the same thing is the agent's
// streaming backend (use_streaming_backend, on by default since 1.10): an
// agent answers blocking health queries from one materialized view per
// service, fed by a subscription to the servers, however many clients ask.
// The resolver's queries use it without asking: every query after the first
// blocks on an index, which is what the agent streams; the index in its
// answers is the view's Raft index, so the index rules above apply as they
// are. Agents without streaming, and near queries, which an agent cannot
// stream, fall back to plain blocking queries to the servers. The resolver
// logs which backend answers (X-Consul-Query-Backend) when it first learns
// it and whenever it changes. It does not add ?cached (the agent cache): on
// a 1.14 agent a cached blocking query is served by the streaming backend
// anyway; for near queries the cache would make every read stale, whatever
// the target's stale says, and answer from the cache while the servers are
// unreachable, which hides the outage the resolver handles itself.
//
// After an agent restart or outage the queries of many processes are spread:
// the first retry after a failure waits its backoff step plus a uniformly
// random wait of up to one second (up to WithBackoff's Max when that is
// shorter), so processes that lost the agent in the same instant come back
// over a second rather than within a few milliseconds; later retries of a
// long outage keep that spread. The bound: a process queries again at most
// one backoff step after the agent answers again (Max·(1+Jitter), 12 s by
// default; Base·(1+Jitter) plus 1 s for the first retry), keeping its last
// good set meanwhile.
//
// # Cold start from a snapshot
//
// With WithSnapshotDir the resolver also writes every set the channel accepts
// to a file in that directory, one per target (see kitresolver.Snapshot: JSON,
// mode 0600, replaced atomically; a failed write is logged and changes nothing
// else). The file is named after what decides the set: the agent, dc, service,
// healthy and the sorted tags, so ?tag=v1 and ?tag=v2 never share one; near
// and stale do not count. For a target that names no agent or dc, the
// configured ones count, so clients of two clusters never share a file. A client started while the agent is unreachable
// then serves that last good set instead of failing: on the first failed
// query, or if the agent has not answered within kitresolver.SnapshotGrace,
// the snapshot's valid instances are published with the state marked stale
// (kitresolver.IsStale) and one warning says so and how old the snapshot is.
// A snapshot older than WithSnapshotMaxAge (kitresolver.DefaultSnapshotMaxAge,
// 24h, by default) is not served: the client then fails fast as it would
// without one. The agent's answer replaces it, is not stale, and is written
// to the file;
// as for any set in service, an empty answer right after the agent was
// unreachable is first held back for WithRecoveryGrace. A missing file (the
// first start) is not an error, a broken one is logged and ignored.
//
// # Registrar
//
// Register announces an Instance with a gRPC check against grpc.health.v1
// (or a TTL check the registrar passes itself, WithTTLCheck) and keeps it
// registered: when the agent forgets the service, as a restarted agent does,
// it registers it again, with backoff, until Deregister. A Register that
// fails leaves nothing registered: when a step fails after the agent may have
// accepted the service (a lost answer, a 5xx from a proxy in front of the
// agent, the first TTL report in TTL mode), it removes the service before
// returning its error.
//
// The newest registration of a service ID owns it. Each Registration marks
// its check's Notes with a random nonce and the time it was made; one that
// another Registration (in this process or another) replaced stops keeping
// the ID registered, and its Drain and Deregister leave the newer one alone.
// Should an older one, made over a minute before, register the ID again
// first after the agent lost its state, the newest takes the ID back within
// one check interval (the minute allows for clocks that disagree).
// Consul's agent API cannot delete conditionally, so Deregister reads,
// compares and then deletes: a newer registration made in the milliseconds
// between the two is removed, and its own Registration registers it again
// within one check interval.
//
// # Options
//
// Options follow package etcd's style and names. NewBuilder takes Options,
// Register takes RegisterOptions, and a CommonOption is both, so a resolver
// and a registrar can share one list:
//
//	common := []consul.CommonOption{consul.WithRequestTimeout(2 * time.Second), consul.WithBackoff(b)}
//
// An option's type, not its name, says which side it is for, and a concept
// both packages have has one name in both: WithBackoff and
// WithRequestTimeout (CommonOption in both), WithSnapshotDir and
// WithSnapshotMaxAge (resolver only). The rest belong to one registry: the
// agent, tokens and query tuning here (WithConfig, WithToken,
// WithTokenFile, WithAllowedAgents, WithWaitTime, WithMinQueryInterval,
// WithRecoveryGrace) and the check (WithCheckInterval, WithCheckTimeout,
// WithCheckTLS, WithHealthService, WithTTLCheck, WithWaitPassing,
// WithDeregisterCriticalServiceAfter, WithTags, WithWarningWeight); the key
// prefix, the lease (WithTTL) and WithStateFunc in etcd. WithTTLCheck is not
// named like etcd's WithTTL because it does more than set a time: it
// replaces the gRPC check by a TTL check the registrar passes itself.
// TLS to the agent comes with WithConfig (or the CONSUL_* environment) for
// the resolver, and with the *api.Client given to Register for the
// registrar, as etcd's comes with its client. An invalid option makes Build
// and Register fail with an error that names it.
//
// kitresolver.SetServing, Drain and GracefulStop make the server's health status follow
// its lifecycle: SERVING once it listens, NOT_SERVING before it stops, so
// Consul and the clients drain it before the process exits. Deregister and
// Drain return within their bound (WithRequestTimeout, plus two check periods
// for Drain's wait) whatever context they get, so a shutdown never hangs on an
// unreachable agent.
package consul
