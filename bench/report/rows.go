package report

import "fmt"

// Row is a row of the design's performance table: the target, the pairs of
// benchmarks that measure it, and what the report says when it is missed.
type Row struct {
	ID     string
	What   string
	Target string
	Anchor string // what the design measures it beside
	Pairs  []Pair
	// Checks adds checks computed from the JSON results (simulations,
	// balance); nil for rows measured by benchmarks alone.
	Checks func(*Inputs) []Check
	// Analysis says why the target is missed and what meeting it would
	// take; the report shows it only when a check of the row misses.
	Analysis string
	// Requires are benchmarks that only the current suite of the row's
	// packages runs; without them the results predate the suite, and the
	// row's benchmark pairs are reported as not measured rather than
	// judged from names that meant something else then.
	Requires []Key
}

// tracingSuite are benchmarks of interceptor/tracing that came with the
// interceptor path.
var tracingSuite = []Key{
	{"interceptor/tracing", "BenchmarkUnaryRPC/propagation"},
	{"interceptor/tracing", "BenchmarkUnaryRPC/statshandler/unsampled"},
}

// Rows are the design's performance targets, in the design's order.
var Rows = []Row{
	{
		ID: "chain", What: "server and client chains without tracing (recovery, rate limit, breaker)",
		Target: "≤ 1.03× a bare unary RPC over loopback", Anchor: "bare grpc-go server and client",
		Pairs: []Pair{
			{Label: "unary RPC, stack vs bare", Pkg: "interceptor/stack", Anchor: "BenchmarkUnaryRPC/bare", Ours: "BenchmarkUnaryRPC/stack", Max: 1.03},
			{Label: "unary RPC, CPU time of client and server", Pkg: "interceptor/stack", Anchor: "BenchmarkUnaryRPC/bare", Ours: "BenchmarkUnaryRPC/stack", Unit: "cpu-ns/op", Info: true},
		},
		Analysis: analysisChain,
	},
	{
		ID: "tracing-sampled", What: "tracing (default, interceptor path), sampling SDK tracer",
		Target: "≤ 0.85× otelgrpc's handlers alone", Anchor: "otelgrpc handlers alone",
		Requires: tracingSuite,
		Pairs: []Pair{
			{Label: "unary RPC, sampled", Pkg: "interceptor/tracing", Anchor: "BenchmarkUnaryRPC/otelgrpc/sampled", Ours: "BenchmarkUnaryRPC/tracing/sampled", Max: 0.85},
			{Label: "unary RPC, sampled, CPU time", Pkg: "interceptor/tracing", Anchor: "BenchmarkUnaryRPC/otelgrpc/sampled", Ours: "BenchmarkUnaryRPC/tracing/sampled", Unit: "cpu-ns/op", Info: true},
			{Label: "stats-handler path (opt-in), sampled", Pkg: "interceptor/tracing", Anchor: "BenchmarkUnaryRPC/otelgrpc/sampled", Ours: "BenchmarkUnaryRPC/statshandler/sampled", Info: true},
			{Label: "otelgrpc sampled vs bare RPC (design: ≈ 1.6×)", Pkg: "interceptor/tracing", Anchor: "BenchmarkUnaryRPC/bare", Ours: "BenchmarkUnaryRPC/otelgrpc/sampled", Info: true},
		},
		Analysis: analysisTracingSampled,
	},
	{
		ID: "tracing-unsampled", What: "tracing (default path), unsampled or no-op provider",
		Target: "≤ 1.05× bare; allocations per unsampled RPC ≤ bare + 2", Anchor: "bare, and otelgrpc alone",
		Requires: tracingSuite,
		Pairs: []Pair{
			{Label: "unary RPC, unsampled", Pkg: "interceptor/tracing", Anchor: "BenchmarkUnaryRPC/bare", Ours: "BenchmarkUnaryRPC/tracing/unsampled", Max: 1.05},
			{Label: "unary RPC, no-op provider", Pkg: "interceptor/tracing", Anchor: "BenchmarkUnaryRPC/bare", Ours: "BenchmarkUnaryRPC/tracing/noop", Max: 1.05},
			{Label: "allocations, unsampled over bare", Pkg: "interceptor/tracing", Anchor: "BenchmarkUnaryRPC/bare", Ours: "BenchmarkUnaryRPC/tracing/unsampled", Unit: "allocs/op", Max: 2, Additive: true},
			{Label: "allocations, no-op over bare", Pkg: "interceptor/tracing", Anchor: "BenchmarkUnaryRPC/bare", Ours: "BenchmarkUnaryRPC/tracing/noop", Unit: "allocs/op", Max: 2, Additive: true},
			{Label: "propagation alone (inject and extract) vs bare", Pkg: "interceptor/tracing", Anchor: "BenchmarkUnaryRPC/bare", Ours: "BenchmarkUnaryRPC/propagation", Info: true},
			{Label: "an empty stats handler vs bare: the floor of any handler", Pkg: "interceptor/tracing", Anchor: "BenchmarkUnaryRPC/bare", Ours: "BenchmarkUnaryRPC/emptyhandler", Info: true},
			{Label: "otelgrpc unsampled vs bare (design: ≈ 1.3–1.5×)", Pkg: "interceptor/tracing", Anchor: "BenchmarkUnaryRPC/bare", Ours: "BenchmarkUnaryRPC/otelgrpc/unsampled", Info: true},
			{Label: "stats-handler path (opt-in), unsampled vs bare", Pkg: "interceptor/tracing", Anchor: "BenchmarkUnaryRPC/bare", Ours: "BenchmarkUnaryRPC/statshandler/unsampled", Info: true},
			{Label: "unsampled, CPU time", Pkg: "interceptor/tracing", Anchor: "BenchmarkUnaryRPC/bare", Ours: "BenchmarkUnaryRPC/tracing/unsampled", Unit: "cpu-ns/op", Info: true},
			{Label: "no-op, CPU time", Pkg: "interceptor/tracing", Anchor: "BenchmarkUnaryRPC/bare", Ours: "BenchmarkUnaryRPC/tracing/noop", Unit: "cpu-ns/op", Info: true},
		},
		Analysis: analysisTracingUnsampled,
	},
	{
		ID: "stack-tracing", What: "interceptor stack with tracing, unsampled",
		Target: "≤ 1.10× bare", Anchor: "bare grpc-go server and client",
		Requires: []Key{{"interceptor/stack", "BenchmarkUnaryRPC/stack+tracing/unsampled"}},
		Pairs: []Pair{
			{Label: "unary RPC, stack+tracing unsampled vs bare", Pkg: "interceptor/stack", Anchor: "BenchmarkUnaryRPC/bare", Ours: "BenchmarkUnaryRPC/stack+tracing/unsampled", Max: 1.10},
		},
		Analysis: analysisStackTracing,
	},
	{
		ID: "wrr-pick", What: "wrr pick",
		Target: "≤ 1.2× grpc-go `round_robin` pick at 10, 100, 1000 endpoints, 0 allocs, at `-cpu 1` and `-cpu 2`", Anchor: "grpc-go round_robin picker",
		Pairs:    pickPairs("balancer/wrr", "wrr", "grpckit_weighted_round_robin", "round_robin", 1.2),
		Analysis: analysisWRRPick,
	},
	{
		ID: "p2c-pick", What: "p2c Pick+Done",
		Target: "≤ 0.5× grpc-go `least_request_experimental` (choiceCount 2) at 10, 100, 1000 endpoints, 0 allocs, at `-cpu 1` and `-cpu 2`; one monotonic clock read per RPC",
		Anchor: "grpc-go least_request picker",
		Pairs: append(pickPairs("balancer/p2c", "p2c", "grpckit_p2c", "least_request_experimental", 0.5),
			p2cContextPairs()...),
		Analysis: analysisP2CPick,
	},
	{
		ID: "outlier-pick", What: "outlier ejection around a policy's picker",
		Target: "≤ +20 ns per Pick+Done over the child's picker alone, at `-cpu 1` and `-cpu 2`", Anchor: "the child policy's picker alone",
		Pairs:    outlierPairs(),
		Analysis: analysisOutlierPick,
	},
	{
		ID: "chash-pick", What: "consistent-hash pick",
		Target: "≤ 0.5× grpc-go `ring_hash` pick with `requestHashHeader`, 0 allocs, at `-cpu 1` and `-cpu 2`", Anchor: "grpc-go ring_hash picker",
		Pairs:    chashPickPairs(),
		Analysis: analysisCHashPick,
	},
	{
		ID: "tokenbucket", What: "token bucket per key",
		Target: "≤ 0.5× `map[string]*rate.Limiter`+mutex under `RunParallel`, 0 allocs", Anchor: "x/time/rate",
		Pairs: []Pair{
			{Label: "1024 keys, RunParallel", Pkg: "interceptor/ratelimit", Anchor: "BenchmarkPerKey/anchor=map+mutex", Ours: "BenchmarkPerKey/TokenBucket", Max: 0.5, ZeroAllocs: true},
			{Label: "one key, serial: TokenBucket vs rate.AllowN", Pkg: "interceptor/ratelimit", Anchor: "BenchmarkAllow/anchor=rate.AllowN", Ours: "BenchmarkAllow/TokenBucket", Info: true},
		},
		Analysis: analysisTokenBucket,
	},
	{
		ID: "window", What: "sliding window",
		Target: "≤ 1.5× `rate.Limiter.AllowN`, O(1) memory per key", Anchor: "x/time/rate",
		Pairs: []Pair{
			{Label: "one key, serial", Pkg: "interceptor/ratelimit", Anchor: "BenchmarkAllow/anchor=rate.AllowN", Ours: "BenchmarkAllow/SlidingWindow", Max: 1.5},
			{Label: "one key, RunParallel", Pkg: "interceptor/ratelimit", Anchor: "BenchmarkAllow/parallel/anchor=rate.AllowN", Ours: "BenchmarkAllow/parallel/SlidingWindow", Max: 1.5},
			{Label: "memory per key, 1M keys over 10k keys (O(1): ≤ 1.5×)", Pkg: "interceptor/ratelimit", Anchor: "BenchmarkStoreMemory/SlidingWindow/keys=10000", Ours: "BenchmarkStoreMemory/SlidingWindow/keys=1000000", Unit: "B/key", Max: 1.5},
		},
		Analysis: analysisWindow,
	},
	{
		ID: "slownode", What: "p99 with one of 11 backends 10× slow",
		Target: "p2c ≤ 0.2× round_robin", Anchor: "grpc-go round_robin",
		Checks:   slowNodeChecks,
		Analysis: analysisSlowNode,
	},
	{
		ID: "chash-balance", What: "consistent hash",
		Target: "max/mean load ≤ 1.05 at 100 endpoints; ≤ loadFactor when bounded; keys moved on removing 1 of N ≤ 1.1/N", Anchor: "theory (1/N)",
		Checks:   chashChecks,
		Analysis: analysisCHashBalance,
	},
	{
		ID: "etcd", What: "etcd change → new picker",
		Target: "p99 ≤ etcd put→watch-event p99 + 1 ms", Anchor: "raw etcd watch",
		Pairs: []Pair{
			{Label: "p99, put → UpdateState vs put → watch event", Pkg: "resolver/etcd", Anchor: "BenchmarkPutToWatchEvent", Ours: "BenchmarkPutToUpdateState", Unit: "p99-µs", Max: 1000, Additive: true},
			{Label: "mean, put → UpdateState vs put → watch event", Pkg: "resolver/etcd", Anchor: "BenchmarkPutToWatchEvent", Ours: "BenchmarkPutToUpdateState", Info: true},
		},
		Analysis: analysisEtcd,
	},
	{
		ID: "consul", What: "Consul change → new picker",
		Target: "≤ 1.2× the raw blocking query return", Anchor: "raw api.Health().Service",
		Pairs: []Pair{
			{Label: "register → UpdateState vs register → blocking query returns", Pkg: "resolver/consul", Anchor: "BenchmarkChange/raw_blocking_query", Ours: "BenchmarkChange/resolver_update_state", Max: 1.2},
		},
		Analysis: analysisConsul,
	},
	{
		ID: "overload", What: "overload, 2× and 4× capacity, open loop",
		Target: "goodput ≥ 90 % of capacity and admitted p99 ≤ 2× the 0.5× p99, with no configuration; nothing shed at 0.5×",
		Anchor: "no protection, a tuned token bucket, kratos aegis BBR",
		Checks: overloadChecks, Analysis: analysisOverload,
	},
	{
		ID: "registry-load", What: "registry load: one watch for N channels",
		Target: "N channels to one service in one process: one registry watch", Anchor: "one channel",
		Checks: registryChecks,
	},
}

// pickSizes are the endpoint counts the pick benchmarks run at.
var pickSizes = []int{10, 100, 1000}

// pickCPUs are the -cpu values scripts/bench.sh runs the pick benchmarks at
// (picks.txt); a pick target holds only if it holds at each.
var pickCPUs = []int{1, 2}

// pickPairs judges policy against anchor in pkg's BenchmarkPick at every
// size and -cpu value.
func pickPairs(pkg, label, policy, anchor string, maxRatio float64) []Pair {
	var out []Pair
	for _, cpu := range pickCPUs {
		for _, n := range pickSizes {
			out = append(out, Pair{
				Label: fmt.Sprintf("%s, %d endpoints, -cpu %d", label, n, cpu), Pkg: pkg,
				Anchor: CPUName(fmt.Sprintf("BenchmarkPick/endpoints=%d/policy=%s", n, anchor), cpu),
				Ours:   CPUName(fmt.Sprintf("BenchmarkPick/endpoints=%d/policy=%s", n, policy), cpu),
				Max:    maxRatio, ZeroAllocs: true,
			})
		}
	}
	return out
}

// p2cContextPairs set p2c beside round_robin, the cheapest pick, and the
// clock reads beside p2c: not judged.
func p2cContextPairs() []Pair {
	var out []Pair
	for _, cpu := range pickCPUs {
		for _, n := range pickSizes {
			out = append(out, Pair{
				Label: fmt.Sprintf("p2c vs round_robin, %d endpoints, -cpu %d", n, cpu), Pkg: "balancer/p2c",
				Anchor: CPUName(fmt.Sprintf("BenchmarkPick/endpoints=%d/policy=round_robin", n), cpu),
				Ours:   CPUName(fmt.Sprintf("BenchmarkPick/endpoints=%d/policy=grpckit_p2c", n), cpu),
				Info:   true,
			})
		}
	}
	for _, cpu := range pickCPUs {
		for _, clock := range []string{"time.Since", "time.Now"} {
			out = append(out, Pair{
				Label: fmt.Sprintf("p2c Pick+Done, 10 endpoints, over one %s, -cpu %d", clock, cpu), Pkg: "balancer/p2c",
				Anchor: CPUName("BenchmarkClock/"+clock, cpu),
				Ours:   CPUName("BenchmarkPick/endpoints=10/policy=grpckit_p2c", cpu),
				Info:   true,
			})
		}
	}
	return out
}

// outlierPairs judge what grpckit_outlier_ejection adds to a Pick+Done of
// round_robin and p2c, healthy and watched, at every -cpu value.
func outlierPairs() []Pair {
	var out []Pair
	for _, cpu := range pickCPUs {
		for _, n := range []int{10, 100} {
			for _, c := range []struct{ label, child, ours string }{
				{"round_robin", "round_robin", "outlier+round_robin"},
				{"round_robin, every endpoint watched", "round_robin", "outlier+round_robin_watched"},
				{"p2c", "p2c", "outlier+p2c"},
			} {
				out = append(out, Pair{
					Label: fmt.Sprintf("over %s, %d endpoints, -cpu %d", c.label, n, cpu), Pkg: "balancer/outlier",
					Anchor: CPUName(fmt.Sprintf("BenchmarkPick/%s/%d", c.child, n), cpu),
					Ours:   CPUName(fmt.Sprintf("BenchmarkPick/%s/%d", c.ours, n), cpu),
					Max:    20, Additive: true, ZeroAllocs: true,
				})
			}
		}
	}
	return out
}

func chashPickPairs() []Pair {
	var out []Pair
	for _, cpu := range pickCPUs {
		for _, n := range pickSizes {
			out = append(out, Pair{
				Label: fmt.Sprintf("header key, %d endpoints, -cpu %d", n, cpu), Pkg: "balancer/consistenthash",
				Anchor: CPUName(fmt.Sprintf("BenchmarkPick/ring_hash/header/%d", n), cpu),
				Ours:   CPUName(fmt.Sprintf("BenchmarkPick/consistenthash/header/%d", n), cpu),
				Max:    0.5, ZeroAllocs: true,
			})
		}
	}
	for _, cpu := range pickCPUs {
		for _, n := range pickSizes {
			out = append(out, Pair{
				Label: fmt.Sprintf("WithKey, %d endpoints, -cpu %d", n, cpu), Pkg: "balancer/consistenthash",
				Anchor: CPUName(fmt.Sprintf("BenchmarkPick/ring_hash/header/%d", n), cpu),
				Ours:   CPUName(fmt.Sprintf("BenchmarkPick/consistenthash/withkey/%d", n), cpu),
				Info:   true,
			}, Pair{
				Label: fmt.Sprintf("WithKey, bounded loads, %d endpoints, -cpu %d", n, cpu), Pkg: "balancer/consistenthash",
				Anchor: CPUName(fmt.Sprintf("BenchmarkPick/ring_hash/header/%d", n), cpu),
				Ours:   CPUName(fmt.Sprintf("BenchmarkPick/consistenthash/withkey-bounded/%d", n), cpu),
				Info:   true,
			})
		}
	}
	return out
}
