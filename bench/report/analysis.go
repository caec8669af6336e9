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

const analysisTracingSampled = `The default path starts and ends the span in interceptors and records the
attributes of the RPC semantic conventions itself, precomputed per method;
otelgrpc's handlers also build a stats event for every step of the RPC and
record per-message events and rpc.message.* attributes. What a sampled span
costs is mostly the SDK's: span IDs, the attribute slice, the end and
export. Meeting 0.85× needs the interceptor path to stay well clear of the
stats-handler floor (the empty-handler row of the next table) and to add no
per-call allocation of its own beyond the span's; the stats-handler path
(opt-in) row shows what keeping otelgrpc costs.`

const analysisTracingUnsampled = `An unsampled RPC on the default path costs the sampling decision and the
context propagation (the propagation row: inject traceparent and baggage on
the client, extract them on the server), no stats handler. Whatever it
costs over the propagation row is grpckit's own: the non-recording span the
SDK returns, the context it is put in, and the status check at the end. The
no-op provider skips propagation work the propagator does not do. Meeting
1.05× needs the unsampled path to add at most what the propagation alone
costs, and the allocation check to hold at bare + 2: a carrier that
allocates per call or attributes built before the span says it records
would show there.`

const analysisStackTracing = `The stack adds recovery, the server limiter and shedding, the client's
pushback gate and breaker, and tracing's interceptors; unsampled, tracing
adds the propagation. The chain row measures the stack without tracing;
what this row adds over that is tracing's unsampled cost in the stack.`

const analysisOverload = `Read the checks of grpckit's limiter (the others are context). At 0.5× the
limiter sheds calls while it learns: its limit starts below the capacity the
machine has once other load leaves, and a 2-core machine shared with other
processes changes the capacity within a step. At 2× and 4× the goodput falls
below 90 % when the limit settles under the capacity (the in-flight and
latency signals see the machine's other load as queueing) or when the shed
calls themselves cost the server CPU it would have spent on admitted ones.
The run here is on a loaded machine (see the load averages in the Overload
section); a quiet rerun decides whether the limiter or the machine misses.
Meeting the goals reliably would need the limit to track the capacity from
above (probe up faster after a drop in latency) and rejection to cost less
than a call.`

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
