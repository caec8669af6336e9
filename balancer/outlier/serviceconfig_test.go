package outlier

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	"github.com/grpckit/grpckit/balancer/internal/childpolicy"
	"github.com/grpckit/grpckit/balancer/lbconfig"
	"github.com/grpckit/grpckit/balancer/p2c"
	"github.com/grpckit/grpckit/balancer/wrr"
	"github.com/grpckit/grpckit/balancer/zoneaware"
)

// cmpConfig compares parsed configurations: children by the name of their
// builder and their parsed configuration.
var cmpConfig = []cmp.Option{
	cmp.AllowUnexported(lbConfig{}),
	cmp.Comparer(func(a, b childpolicy.Policy) bool {
		return a.Builder.Name() == b.Builder.Name() && reflect.DeepEqual(a.Config, b.Config)
	}),
}

// TestPolicyRoundTrip checks that what Policy builds parses, with the
// policy's parser, to the configuration its options and child describe.
func TestPolicyRoundTrip(t *testing.T) {
	defaults := func(child string) *lbConfig {
		c, err := parseConfig(json.RawMessage(`{"childPolicy":[{"` + child + `":{}}]}`))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	all := defaults(wrr.Name)
	all.consecutiveFailures, all.failureRate, all.minRequests = 3, 0.25, 10
	all.interval, all.baseEjection, all.maxEjection, all.maxEjectionPercent = time.Second, 2*time.Second, time.Minute, 34
	all.failureCodes = 1<<codes.Unavailable | 1<<codes.Internal | 1<<codes.Unauthenticated
	off := defaults("round_robin")
	off.consecutiveFailures, off.failureRate, off.minRequests, off.maxEjectionPercent = 0, 0, 0, 0
	tests := []struct {
		name  string
		child lbconfig.Policy
		opts  []PolicyOption
		json  string
		want  *lbConfig
	}{
		{name: "defaults", child: lbconfig.RoundRobin(), json: `{"childPolicy":[{"round_robin":{}}]}`, want: defaults("round_robin")},
		{name: "pick_first", child: lbconfig.PickFirst(), json: `{"childPolicy":[{"pick_first":{}}]}`, want: defaults("pick_first")},
		{
			name: "every field", child: lbconfig.Must(wrr.Policy()),
			opts: []PolicyOption{
				WithConsecutiveFailures(3), WithFailureRateThreshold(0.25), WithFailureRateMinRequests(10),
				WithInterval(time.Second), WithBaseEjectionTime(2 * time.Second), WithMaxEjectionTime(time.Minute),
				WithMaxEjectionPercent(34), WithFailureCodes(codes.Unavailable, codes.Internal, codes.Unauthenticated),
			},
			json: `{"consecutiveFailures":3,"failureRateThreshold":0.25,"failureRateMinRequests":10,"interval":"1s","baseEjectionTime":"2s","maxEjectionTime":"1m0s","maxEjectionPercent":34,"failureCodes":["UNAVAILABLE","INTERNAL","UNAUTHENTICATED"],"childPolicy":[{"grpckit_weighted_round_robin":{}}]}`,
			want: all,
		},
		{
			name: "zeros turn rules off, not to defaults", child: lbconfig.RoundRobin(),
			opts: []PolicyOption{WithConsecutiveFailures(0), WithFailureRateThreshold(0), WithFailureRateMinRequests(0), WithMaxEjectionPercent(0)},
			json: `{"consecutiveFailures":0,"failureRateThreshold":0,"failureRateMinRequests":0,"maxEjectionPercent":0,"childPolicy":[{"round_robin":{}}]}`,
			want: off,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Policy(tt.child, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if p.Name() != Name || string(p.Config()) != tt.json {
				t.Errorf("Policy = %s, want {%q:%s}", p, Name, tt.json)
			}
			got, err := parseConfig(p.Config())
			if err != nil {
				t.Fatalf("the parser refused what Policy built, %s: %v", p, err)
			}
			if diff := cmp.Diff(tt.want, got, cmpConfig...); diff != "" {
				t.Errorf("parsed config (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPolicyNestedChildren checks that a parent and a child of grpckit
// build each other: outlier over zone-aware over p2c parses to that chain.
func TestPolicyNestedChildren(t *testing.T) {
	zones := lbconfig.Must(zoneaware.Policy(lbconfig.Must(p2c.Policy()), zoneaware.WithLocalZone("a")))
	p, err := Policy(zones, WithMaxEjectionPercent(20))
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseConfig(p.Config())
	if err != nil {
		t.Fatal(err)
	}
	if got.child.Builder.Name() != zoneaware.Name || got.maxEjectionPercent != 20 {
		t.Errorf("parsed child %q, maxEjectionPercent %d; want %q, 20", got.child.Builder.Name(), got.maxEjectionPercent, zoneaware.Name)
	}
}

// TestPolicyInvalid checks that every bad value of every field, and a bad
// child, is refused by Policy with an error prefixed "outlier: " that names
// the field.
func TestPolicyInvalid(t *testing.T) {
	rr := lbconfig.RoundRobin()
	tests := []struct {
		name    string
		child   lbconfig.Policy
		opts    []PolicyOption
		wantErr string
	}{
		{"consecutive failures negative", rr, []PolicyOption{WithConsecutiveFailures(-1)}, "consecutiveFailures"},
		{"consecutive failures over uint32", rr, []PolicyOption{WithConsecutiveFailures(1 << 32)}, "consecutiveFailures"},
		{"failure rate negative", rr, []PolicyOption{WithFailureRateThreshold(-0.5)}, "failureRateThreshold -0.5 is outside [0, 1]"},
		{"failure rate over 1", rr, []PolicyOption{WithFailureRateThreshold(1.01)}, "failureRateThreshold 1.01 is outside [0, 1]"},
		{"failure rate NaN", rr, []PolicyOption{WithFailureRateThreshold(math.NaN())}, "failureRateThreshold NaN is outside [0, 1]"},
		{"failure rate -Inf", rr, []PolicyOption{WithFailureRateThreshold(math.Inf(-1))}, "failureRateThreshold -Inf is outside [0, 1]"},
		{"min requests negative", rr, []PolicyOption{WithFailureRateMinRequests(-3)}, "failureRateMinRequests"},
		{"interval too short", rr, []PolicyOption{WithInterval(MinInterval - 1)}, "interval 99.999999ms is under 100ms"},
		{"interval negative", rr, []PolicyOption{WithInterval(-time.Second)}, "interval -1s is under 100ms"},
		{"base ejection too short", rr, []PolicyOption{WithBaseEjectionTime(time.Millisecond)}, "baseEjectionTime 1ms is under 100ms"},
		{"max ejection under base", rr, []PolicyOption{WithBaseEjectionTime(time.Minute), WithMaxEjectionTime(time.Second)}, "maxEjectionTime 1s is shorter than baseEjectionTime 1m0s"},
		{"max ejection under the default base", rr, []PolicyOption{WithMaxEjectionTime(time.Second)}, "maxEjectionTime 1s is shorter than baseEjectionTime 30s"},
		{"max ejection percent over 100", rr, []PolicyOption{WithMaxEjectionPercent(101)}, "maxEjectionPercent 101 is over 100"},
		{"max ejection percent negative", rr, []PolicyOption{WithMaxEjectionPercent(-1)}, "maxEjectionPercent"},
		{"failure codes empty", rr, []PolicyOption{WithFailureCodes()}, "failureCodes is empty"},
		{"failure codes OK", rr, []PolicyOption{WithFailureCodes(codes.Unavailable, codes.OK)}, "failureCodes may not list OK or CANCELLED"},
		{"failure codes CANCELLED", rr, []PolicyOption{WithFailureCodes(codes.Canceled)}, "failureCodes may not list OK or CANCELLED"},
		{"failure codes out of range", rr, []PolicyOption{WithFailureCodes(codes.Code(17))}, "failureCodes: 17 is not a gRPC status code"},
		{"zero child", lbconfig.Policy{}, nil, "childPolicy is the zero lbconfig.Policy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Policy(tt.child, tt.opts...)
			if err == nil || !strings.HasPrefix(err.Error(), "outlier: ") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Policy = %v, %v; want an error prefixed \"outlier: \" containing %q", p, err, tt.wantErr)
			}
			if !p.IsZero() {
				t.Errorf("Policy returned %v with its error", p)
			}
		})
	}
}

// TestCodeNames checks that every code's name reads back, with codes.Code's
// own JSON decoding, as that code.
func TestCodeNames(t *testing.T) {
	for i, name := range codeNames {
		var c codes.Code
		if err := c.UnmarshalJSON([]byte(strconv.Quote(name))); err != nil || c != codes.Code(i) {
			t.Errorf("%q reads as %v, %v; want %v", name, c, err, codes.Code(i))
		}
	}
	if len(codeNames) != 17 {
		t.Errorf("%d names, want one for each of the 17 codes", len(codeNames))
	}
}

// FuzzPolicy checks Policy against the parser fed the same values written
// by hand: Policy accepts exactly what the parser accepts (NaN and
// infinities, which JSON cannot carry, and codes beyond 16 are refused),
// every Policy it builds parses, and to the same configuration. Bit i of
// set says whether field i is set.
func FuzzPolicy(f *testing.F) {
	f.Add(uint16(0), int64(0), 0.0, int64(0), int64(0), int64(0), int64(0), int64(0), []byte{})
	f.Add(uint16(0xff), int64(5), 0.5, int64(20), int64(10e9), int64(30e9), int64(300e9), int64(50), []byte{14, 13})
	f.Add(uint16(0xff), int64(-1), 1.5, int64(1)<<33, int64(1), int64(-1), int64(0), int64(101), []byte{0})
	f.Add(uint16(0x80), int64(0), math.NaN(), int64(0), int64(0), int64(0), int64(0), int64(0), []byte{})
	f.Add(uint16(0x82), int64(0), math.Inf(1), int64(0), int64(0), int64(0), int64(0), int64(0), []byte{17, 1})
	f.Fuzz(func(t *testing.T, set uint16, cf int64, rate float64, minReq, interval, base, maxEj, pct int64, codeBytes []byte) {
		var opts []PolicyOption
		var js []string
		add := func(i int, opt PolicyOption, name, value string) {
			if set&(1<<i) != 0 {
				opts = append(opts, opt)
				js = append(js, fmt.Sprintf("%q:%s", name, value))
			}
		}
		num := func(v int64) string { return strconv.FormatInt(v, 10) }
		dur := func(v int64) string { return strconv.Quote(time.Duration(v).String()) }
		add(0, WithConsecutiveFailures(int(cf)), "consecutiveFailures", num(cf))
		add(1, WithFailureRateThreshold(rate), "failureRateThreshold", strconv.FormatFloat(rate, 'g', -1, 64))
		add(2, WithFailureRateMinRequests(int(minReq)), "failureRateMinRequests", num(minReq))
		add(3, WithInterval(time.Duration(interval)), "interval", dur(interval))
		add(4, WithBaseEjectionTime(time.Duration(base)), "baseEjectionTime", dur(base))
		add(5, WithMaxEjectionTime(time.Duration(maxEj)), "maxEjectionTime", dur(maxEj))
		add(6, WithMaxEjectionPercent(int(pct)), "maxEjectionPercent", num(pct))
		cs := make([]codes.Code, len(codeBytes))
		nums := make([]string, len(codeBytes))
		for i, b := range codeBytes {
			cs[i], nums[i] = codes.Code(b), num(int64(b))
		}
		add(7, WithFailureCodes(cs...), "failureCodes", "["+strings.Join(nums, ",")+"]")
		js = append(js, `"childPolicy":[{"round_robin":{}}]`)
		hand := "{" + strings.Join(js, ",") + "}"
		want, wantErr := parseConfig([]byte(hand))
		if set&2 != 0 && (math.IsNaN(rate) || math.IsInf(rate, 0)) {
			want, wantErr = nil, fmt.Errorf("not JSON")
		}
		p, err := Policy(lbconfig.RoundRobin(), opts...)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%s: Policy error %v, parser error %v", hand, err, wantErr)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "outlier: ") {
				t.Fatalf("error %q is not prefixed with the package", err)
			}
			return
		}
		got, err := parseConfig(p.Config())
		if err != nil {
			t.Fatalf("the parser refused what Policy built, %s: %v", p, err)
		}
		if diff := cmp.Diff(want, got, cmpConfig...); diff != "" {
			t.Errorf("%s (-hand-written +built):\n%s", hand, diff)
		}
	})
}
