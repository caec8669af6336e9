package report

// The analyses shown under a row that misses its target. Each says where
// the cost comes from and what meeting the target would take; the figures
// they cite are in the row's own table, measured in the same run.

const analysisChain = `Each side is one interceptor (recovery wraps the server limiter, the client
limiter wraps the breaker, without gRPC's per-call chain closure). Per call
they add recovery's deferred recover, the server limiter (the peer's host,
cached per connection address, a lock-free store lookup and one token
taken), and on the client the pushback gate and gobreaker's mutex-protected
counters. In a CPU profile of the stack benchmark grpckit's own code is
about 1.5 % of the time. The three allocations over bare are gRPC's: any
server interceptor costs a UnaryServerInfo and a handler closure per call,
and asking for the trailer (where the pushback comes) makes gRPC copy it.
The rest of the gap is the extra garbage and scheduling on two cores that
also run the server, and it is of the size of the run-to-run spread (see the
per-pass range). Meeting 1.03× reliably would need the pushback without the
trailer copy (gRPC has no copy-free trailer accessor) and a breaker whose
closed state takes no lock; or a quieter machine than this one.`

const analysisTracingSampled = `A sampled RPC does all of otelgrpc's work, because grpckit hands recorded
spans to otelgrpc's handler, plus a little of its own: it starts the span
itself (so that unsampled RPCs can skip otelgrpc), every stats event of the
RPC, about ten per side, passes through one more layer (find the span in the
context, ask whether it records) before reaching otelgrpc, and each span gets
network.peer.address and network.peer.port, attributes the SDK copies into
the span (the extra allocations per RPC in the handlers-alone row). So
grpckit's sampled path can only equal otelgrpc's, never undercut it; the
handlers-alone row measures the handlers' difference without the network,
and the loopback rows add the machine's noise on top. Meeting ≤ 1.0× would
need grpckit to do less than otelgrpc for a sampled RPC: fill the span
itself instead of delegating to otelgrpc, skipping what otelgrpc records
that the design does not ask for (the per-message events, the
rpc.message.* attributes), and set the peer attributes at span start so the
SDK does not grow the attribute slice afterwards.`

const analysisTracingUnsampled = `Installing any stats handler has a price before the handler does anything:
gRPC then builds and delivers a stats event for every step of the RPC on
both sides (the empty-handler row, and its allocations against bare). With a
no-op provider grpckit's handler returns at once and stays close to that
floor. With an unsampled SDK tracer it still does the work that keeps
traces joined up: on the server it extracts the caller's trace context, on
both sides it starts a non-recording SDK span (the sampler's decision, new
span IDs), and on the client it injects traceparent into the metadata, which
gRPC then encodes as one more header; that is the difference between the
no-op and unsampled rows. Meeting 1.10× for unsampled would need that path
to cost about what the no-op path costs: decide sampling without the SDK
span when the sampler is known never to sample (put the parent's span
context in the context as a non-recording span directly), and keep a
precomputed traceparent per span context instead of formatting it per call.
Below the empty-handler floor nothing in grpckit can go; only gRPC could, by
not allocating events for handlers that do not want them.`

const analysisWRRPick = `A round_robin pick costs a few ns at -cpu 1 (an atomic add, a remainder, the
child's pick) and more at -cpu 2, where the shared counter's cache line
moves between the cores on every pick; how much more depends on the core
topology (two SMT threads of one core share the line, two cores or sockets
do not), which is why a ratio measured at one -cpu value does not carry to
another machine. wrr does the same walk plus one load: the schedule slot
names the child (its remainder is a multiply-shift, cheaper than
round_robin's division). At a few ns per pick that load, and the noise of
a machine shared by other work, decide the ratio; see the per-pass range of
each check. Meeting 1.2× at every -cpu value reliably would need the
schedule to hold the child pickers themselves (16 bytes a slot instead of 4,
up to 1 MiB at the longest period) so that wrr's pick is round_robin's.`

const analysisP2CPick = `p2c does the work of least_request (two random candidates, the cheaper one
taken, a counter held until Done) plus a latency estimate, without
least_request's three allocations per pick (the Done closure and its
captures). The estimate costs no clock read on 15 picks in 16: one pick in
2^sampleShift is timed, with one read at Pick and one at Done, so p2c
reads the clock 2/16 times per RPC on average; comparing two estimates
needs no clock and no exp (the stats doc). A check that misses here is
one where the shared machine's load hit the two benchmarks unevenly: see
its per-pass range. The clock rows show p2c's Pick+Done beside one clock
read, the floor of any policy that measures every RPC.`

const analysisOutlierPick = `Outlier ejection unwraps the child's SubConn and counts every call's outcome
in Done on the endpoint's counters. Over a child without a Done of its own
(round_robin) it hands gRPC the endpoint's Done directly; over a child with
one (p2c) it chains the two through a pooled hook, a sync.Pool Get and Put
per pick on top of the counting, which is most of what it adds over p2c.
At -cpu 2 the counters of an endpoint that both cores pick move between
them, as round_robin's own counter does. Meeting +20 ns over p2c everywhere
would need the chaining without the pool: a per-endpoint Done that the
child's Done calls (a Done-wrapping hook in the child policies), or the
outlier counts kept by the child itself.`

const analysisCHashPick = `The time per pick is well under half of ring_hash's: the table lookup is one
shift and one load, where ring_hash binary-searches its ring. The miss is the
allocation: a header-keyed pick reads the key with
metadata.ValueFromOutgoingContext, which copies the values slice (16 B, one
allocation), and grpc-go offers no copy-free accessor. Picks keyed with
consistenthash.WithKey (the recommended way, see the context rows) allocate
nothing and cost a few ns. Meeting 0 allocs for header keys would need a
copy-free accessor of the outgoing metadata in grpc-go (v1.85 has none), or an
interceptor that runs before the pick and caches the header's hash in the
context, as WithKey does; that moves the allocation out of Pick rather than
removing it.`

const analysisTokenBucket = `Both sides end in the same x/time/rate Limiter.AllowN, which takes the
limiter's own mutex and does its time arithmetic; that call alone is most of
the cost (compare the single-key context row). The anchor adds a global
mutex and a map lookup; the token bucket replaces them with a sharded
RWMutex and a map lookup, which removes the contention of the global lock,
but on two cores that contention is small: with only two goroutines the
anchor's lock is rarely fought over. So the ratio cannot fall much below
AllowN's share of the anchor. Reaching 0.5× needs a bucket cheaper than
rate.Limiter: a lock-free bucket in one atomic word (tokens and last refill
packed, updated by compare-and-swap), and a read path without RWMutex (an
atomically published read-only map per shard). On a machine with more cores
the anchor's global mutex serialises and the ratio falls on its own.`

const analysisWindow = `The sliding window keeps two counters per key, the current and the previous
window, and weighs the previous one by how much of it still overlaps, one
mutex-protected update per request. If the per-request cost misses, it is
that mutex under RunParallel; if the memory check misses, the store's
per-key overhead (map entry, key string, last-seen time) has grown with the
number of keys, e.g. from map growth at 1M keys, which an arena of fixed-size
entries would avoid.`

const analysisSlowNode = `p2c sends each call to the cheaper of two random endpoints by peak-EWMA
latency × (in flight + 1). When the slow backend's estimate rises it loses
almost every comparison and is picked only when the other candidate has far
more calls in flight. If the ratio misses, the slow backend still answered more
than 1 % of the calls during the slow phase: its estimate decays (decayTime,
10 s by default) and p2c tries it again, paying 10× on those calls. A
shorter decayTime or a larger errorPenalty trades recovery speed for tail
latency; the simulation's per-backend shares show how much traffic the slow
backend kept.`

const analysisCHashBalance = `Key max/mean counts sampled keys, so it includes sampling noise (the note of
each row gives the max/mean a perfectly even table would show with that many
keys); at 100 endpoints the table itself is built within 1.05 by the
consistenthash package's own tests. A miss here beyond the noise would mean
the table's vnode placement leaves some endpoint more than 5 % above its
share, which a larger ringSize (more slots per endpoint) reduces. Bounded
loads and key movement are exact properties of the policy: the load bound is
enforced on every pick, and removing an endpoint moves only that endpoint's
keys.`

const analysisEtcd = `Between the watch event and UpdateState the resolver decodes the changed
key, applies it to its instance set and rebuilds the sorted endpoint list; at
the sizes of this benchmark that is tens of µs. A p99 difference above 1 ms
comes from scheduling on the shared machine (the resolver's watch goroutine
waiting for a core) rather than from the resolver's work; compare the mean
row. Meeting it under load would need the resolver to hand the update over
on the watch goroutine itself, without a second goroutine in between.`

const analysisConsul = `The resolver runs the same blocking query as the anchor and publishes after
it returns; the extra is decoding the entries into instances, building the
endpoints and the rate limiter between queries. If the ratio misses, it is
the loop's minimum interval between blocking queries (the rate limit the
design asks for): a change that arrives right after a query returned waits
for the next query, which the raw loop issues at once. Meeting the target
would need the rate limit to apply only after consecutive empty or error
returns.`
