package report

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    map[Key][]Run
		order   []Key
		config  map[string]string
		wantErr bool
	}{
		{
			name: "results, headers and noise",
			in: `goos: linux
goarch: amd64
pkg: github.com/grpckit/grpckit/balancer/wrr
cpu: Intel(R) Xeon(R) Processor
BenchmarkPick/endpoints=10/policy=round_robin-2   	12345	  27.30 ns/op	       0 B/op	       0 allocs/op
    bench_test.go:10: a log line
BenchmarkPick/endpoints=10/policy=round_robin-2   	12000	  29.10 ns/op	       0 B/op	       0 allocs/op
PASS
ok  	github.com/grpckit/grpckit/balancer/wrr	1.2s
pkg: github.com/grpckit/grpckit/resolver/etcd
BenchmarkPutToWatchEvent-2   	 300	 424784 ns/op	 612.0 p99-µs	 24094 B/op	 352 allocs/op
BenchmarkStoreMemory/SlidingWindow/keys=10000-2 	 9	 12001875 ns/op	 106.8 B/key
`,
			want: map[Key][]Run{
				{"balancer/wrr", "BenchmarkPick/endpoints=10/policy=round_robin"}: {
					{Iterations: 12345, Values: map[string]float64{"ns/op": 27.30, "B/op": 0, "allocs/op": 0}},
					{Iterations: 12000, Values: map[string]float64{"ns/op": 29.10, "B/op": 0, "allocs/op": 0}},
				},
				{"resolver/etcd", "BenchmarkPutToWatchEvent"}: {
					{Iterations: 300, Values: map[string]float64{"ns/op": 424784, "p99-µs": 612, "B/op": 24094, "allocs/op": 352}},
				},
				{"resolver/etcd", "BenchmarkStoreMemory/SlidingWindow/keys=10000"}: {
					{Iterations: 9, Values: map[string]float64{"ns/op": 12001875, "B/key": 106.8}},
				},
			},
			order: []Key{
				{"balancer/wrr", "BenchmarkPick/endpoints=10/policy=round_robin"},
				{"resolver/etcd", "BenchmarkPutToWatchEvent"},
				{"resolver/etcd", "BenchmarkStoreMemory/SlidingWindow/keys=10000"},
			},
			config: map[string]string{"goos": "linux", "goarch": "amd64", "cpu": "Intel(R) Xeon(R) Processor"},
		},
		{
			name: "a name alone before log lines, and a failed benchmark",
			in: `pkg: github.com/grpckit/grpckit/x
BenchmarkSlow-2
--- FAIL: BenchmarkBroken-2
BenchmarkBroken-2 	--- FAIL
BenchmarkWithKey/withkey-bounded/10-2	100	69.73 ns/op
`,
			want:   map[Key][]Run{{"x", "BenchmarkWithKey/withkey-bounded/10"}: {{Iterations: 100, Values: map[string]float64{"ns/op": 69.73}}}},
			order:  []Key{{"x", "BenchmarkWithKey/withkey-bounded/10"}},
			config: map[string]string{},
		},
		{name: "odd value–unit fields", in: "BenchmarkX-2 	100	12.5 ns/op	3\n", wantErr: true},
		{name: "a value that is not a number", in: "BenchmarkX-2 	100	abc ns/op\n", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(strings.NewReader(tc.in))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Parse succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, s.Runs); d != "" {
				t.Errorf("runs (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.order, s.Order); d != "" {
				t.Errorf("order (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.config, s.Config); d != "" {
				t.Errorf("config (-want +got):\n%s", d)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{10, 10, 10, 10, 10, 1000}, 10},
	} {
		if got := Median(tc.in); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if got := Median(nil); !math.IsNaN(got) {
		t.Errorf("Median(nil) = %v, want NaN", got)
	}
}
