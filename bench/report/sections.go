package report

import (
	"fmt"
	"strings"
)

// Series is one line of the pick-cost plot: a benchmark per endpoint count.
type Series struct {
	Label, Pkg, Format string // Format has a %d for the endpoint count
}

// key is the series' benchmark at n endpoints and -cpu cpu.
func (s Series) key(n, cpu int) Key { return Key{s.Pkg, CPUName(fmt.Sprintf(s.Format, n), cpu)} }

// pickSeries are the policies of the pick-cost table and plot.
var pickSeries = []Series{
	{"round_robin (grpc-go)", "balancer/wrr", "BenchmarkPick/endpoints=%d/policy=round_robin"},
	{"least_request (grpc-go)", "balancer/p2c", "BenchmarkPick/endpoints=%d/policy=least_request_experimental"},
	{"wrr", "balancer/wrr", "BenchmarkPick/endpoints=%d/policy=grpckit_weighted_round_robin"},
	{"p2c", "balancer/p2c", "BenchmarkPick/endpoints=%d/policy=grpckit_p2c"},
	{"ring_hash (grpc-go), header", "balancer/consistenthash", "BenchmarkPick/ring_hash/header/%d"},
	{"consistent hash, header", "balancer/consistenthash", "BenchmarkPick/consistenthash/header/%d"},
	{"consistent hash, WithKey", "balancer/consistenthash", "BenchmarkPick/consistenthash/withkey/%d"},
}

// pairTable writes a markdown table of pairs, for context.
func pairTable(b *strings.Builder, s *Set, pairs []Pair) {
	b.WriteString("| comparison | anchor | grpckit | ratio | grpckit allocs/op | note |\n|---|---|---|---|---|---|\n")
	for _, p := range pairs {
		p.Info = true
		c := p.Evaluate(s)
		allocs := "—"
		if st, ok := s.Stat(Key{p.Pkg, p.Ours}, "allocs/op"); ok {
			allocs = fmt.Sprintf("%g", st.Median)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", escape(p.Label), dash(c.Anchor), dash(c.Ours), c.Measured, allocs, escape(c.Note))
	}
	b.WriteString("\n")
}

func scaleSection(b *strings.Builder, in *Inputs) {
	b.WriteString("## Scale\n\n### Resolver update against service size\n\n")
	b.WriteString("One registry change (an instance added, then removed again) until the etcd resolver reports the new set, with " +
		"10, 1k and 10k instances registered, beside the raw watch event of the same put on the same embedded etcd " +
		"(bench/scale BenchmarkResolverUpdate).\n\n")
	var pairs []Pair
	for _, n := range []int{10, 1000, 10000} {
		pairs = append(pairs, Pair{Label: fmt.Sprintf("%d instances", n), Pkg: "bench/scale",
			Anchor: fmt.Sprintf("BenchmarkResolverUpdate/instances=%d/anchor=raw_watch", n), Ours: fmt.Sprintf("BenchmarkResolverUpdate/instances=%d/resolver", n)})
	}
	pairTable(b, in.Bench, pairs)
	b.WriteString("The resolver's time over the raw event grows with the service because every change publishes the whole " +
		"sorted endpoint list to UpdateState. The resolver applies the change to its instance set incrementally and then " +
		"produces that list; the next table measures this step on its own.\n\n")
	b.WriteString("Applying one change to the resolver's instance set and producing the endpoints, incrementally (the resolver's path) " +
		"beside rebuilding every endpoint (resolver/etcd BenchmarkApplyOneChange):\n\n")
	pairs = pairs[:0]
	for _, n := range []int{1000, 10000} {
		pairs = append(pairs, Pair{Label: fmt.Sprintf("%d instances", n), Pkg: "resolver/etcd",
			Anchor: fmt.Sprintf("BenchmarkApplyOneChange/rebuild/n=%d", n), Ours: fmt.Sprintf("BenchmarkApplyOneChange/incremental/n=%d", n)})
	}
	pairTable(b, in.Bench, pairs)
	b.WriteString("A resolver update with one weight changed until the policy publishes its new picker, every endpoint READY, " +
		"beside grpc-go's round_robin (bench/scale BenchmarkPickerRebuild). Consistent hash rebuilds its table " +
		"(2^20 slots by default) when a weight changes.\n\n")
	pairs = pairs[:0]
	for _, n := range []int{10, 100, 1000} {
		for _, p := range []struct{ label, name string }{{"wrr", "grpckit_weighted_round_robin"}, {"p2c", "grpckit_p2c"}, {"consistent hash", "grpckit_consistent_hash"}} {
			pairs = append(pairs, Pair{Label: fmt.Sprintf("%s, %d endpoints", p.label, n), Pkg: "bench/scale",
				Anchor: fmt.Sprintf("BenchmarkPickerRebuild/endpoints=%d/policy=round_robin", n), Ours: fmt.Sprintf("BenchmarkPickerRebuild/endpoints=%d/policy=%s", n, p.name)})
		}
	}
	pairTable(b, in.Bench, pairs)
	memorySection(b, in.Bench)
}

func memorySection(b *strings.Builder, s *Set) {
	b.WriteString("### Rate-limit key store memory\n\n")
	b.WriteString("Heap held per key after inserting n keys, measured with runtime.MemStats around the inserts " +
		"(interceptor/ratelimit BenchmarkStoreMemory).\n\n| limiter | 10k keys | 1M keys |\n|---|---|---|\n")
	for _, l := range []string{"TokenBucket", "SlidingWindow"} {
		fmt.Fprintf(b, "| %s |", l)
		for _, n := range []int{10_000, 1_000_000} {
			if st, ok := s.Stat(Key{"interceptor/ratelimit", fmt.Sprintf("BenchmarkStoreMemory/%s/keys=%d", l, n)}, "B/key"); ok {
				fmt.Fprintf(b, " %.0f B/key (%.1f MiB) |", st.Median, st.Median*float64(n)/(1<<20))
			} else {
				b.WriteString(" — |")
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

// otherPairs are comparisons outside the design's table, shown for context.
var otherPairs = append([]Pair{
	{Label: "breaker, closed, RunParallel: interceptor vs gobreaker Execute", Pkg: "interceptor/breaker", Anchor: "BenchmarkClosed/gobreaker_Execute", Ours: "BenchmarkClosed/interceptor"},
	{Label: "breaker, closed, serial: interceptor vs gobreaker Execute", Pkg: "interceptor/breaker", Anchor: "BenchmarkClosedSerial/gobreaker_Execute", Ours: "BenchmarkClosedSerial/interceptor"},
	{Label: "recovery, unary: interceptor vs handler alone", Pkg: "interceptor/recovery", Anchor: "BenchmarkUnary/bare", Ours: "BenchmarkUnary/recovery"},
	{Label: "recovery, stream: interceptor vs handler alone", Pkg: "interceptor/recovery", Anchor: "BenchmarkStream/bare", Ours: "BenchmarkStream/recovery"},
	{Label: "token bucket, one key, serial vs rate.AllowN", Pkg: "interceptor/ratelimit", Anchor: "BenchmarkAllow/anchor=rate.AllowN", Ours: "BenchmarkAllow/TokenBucket"},
}, zonePairs()...)

// zonePairs set grpckit_zone_aware over round_robin beside round_robin at
// every -cpu value.
func zonePairs() []Pair {
	var out []Pair
	for _, cpu := range pickCPUs {
		out = append(out,
			Pair{Label: fmt.Sprintf("zone aware, local zone vs round_robin, -cpu %d", cpu), Pkg: "balancer/zoneaware",
				Anchor: CPUName("BenchmarkPick/round_robin", cpu), Ours: CPUName("BenchmarkPick/zoneaware+round_robin/local", cpu)},
			Pair{Label: fmt.Sprintf("zone aware, spilling over vs round_robin, -cpu %d", cpu), Pkg: "balancer/zoneaware",
				Anchor: CPUName("BenchmarkPick/round_robin", cpu), Ours: CPUName("BenchmarkPick/zoneaware+round_robin/spill", cpu)})
	}
	return out
}

func otherSection(b *strings.Builder, in *Inputs) {
	b.WriteString("## Other comparisons\n\nBenchmarks outside the design's table, each beside its anchor.\n\n")
	pairTable(b, in.Bench, otherPairs)
}

func benchstatSection(b *strings.Builder, in *Inputs) {
	b.WriteString("## benchstat\n\n")
	if in.Benchstat == "" {
		b.WriteString("No benchstat output in the results.\n")
		return
	}
	b.WriteString("benchstat's comparison of every judged pair of the tables above, anchor against grpckit, each pair renamed " +
		"to its row and label (`go run ./bench/cmd/report -pairs` writes the two inputs).\n\n<details><summary>benchstat output</summary>\n\n```\n")
	b.WriteString(strings.TrimRight(in.Benchstat, "\n"))
	b.WriteString("\n```\n\n</details>\n")
}
