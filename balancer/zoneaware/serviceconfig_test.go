package zoneaware

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

	"github.com/grpckit/grpckit/balancer/internal/childpolicy"
	"github.com/grpckit/grpckit/balancer/lbconfig"
	"github.com/grpckit/grpckit/balancer/outlier"
	"github.com/grpckit/grpckit/balancer/p2c"
	"github.com/grpckit/grpckit/balancer/wrr"
)

// cmpConfig compares parsed configurations: children by the name of their
// builder and their parsed configuration.
var cmpConfig = []cmp.Option{
	cmp.AllowUnexported(lbConfig{}),
	cmp.Comparer(func(a, b childpolicy.Policy) bool {
		return a.Builder.Name() == b.Builder.Name() && reflect.DeepEqual(a.Config, b.Config)
	}),
}

// mustParse parses a hand-written configuration.
func mustParse(t *testing.T, js string) *lbConfig {
	t.Helper()
	cfg, err := parseConfig(json.RawMessage(js))
	if err != nil {
		t.Fatalf("parseConfig(%s): %v", js, err)
	}
	return cfg
}

// TestPolicyRoundTrip checks that what Policy builds parses, with the
// policy's parser, to the configuration its options and child describe, the
// one the same JSON written by hand parses to.
func TestPolicyRoundTrip(t *testing.T) {
	p2cChild := lbconfig.Must(p2c.Policy(p2c.WithDecayTime(5 * time.Second)))
	outlierChild := lbconfig.Must(outlier.Policy(lbconfig.Must(wrr.Policy()), outlier.WithConsecutiveFailures(3)))
	tests := []struct {
		name  string
		child lbconfig.Policy
		opts  []PolicyOption
		json  string
	}{
		{name: "round_robin", child: lbconfig.RoundRobin(), json: `{"childPolicy":[{"round_robin":{}}]}`},
		{name: "pick_first", child: lbconfig.PickFirst(), json: `{"childPolicy":[{"pick_first":{}}]}`},
		{
			name: "every field", child: p2cChild,
			opts: []PolicyOption{WithLocalZone("eu-1a"), WithPanicThreshold(0.7), WithMinClusterSize(6)},
			json: `{"localZone":"eu-1a","panicThreshold":0.7,"minClusterSize":6,"childPolicy":[{"grpckit_p2c":{"decayTime":"5s"}}]}`,
		},
		{name: "panic threshold 0 is not the default", child: lbconfig.RoundRobin(), opts: []PolicyOption{WithPanicThreshold(0)}, json: `{"panicThreshold":0,"childPolicy":[{"round_robin":{}}]}`},
		{name: "panic threshold 1", child: lbconfig.RoundRobin(), opts: []PolicyOption{WithPanicThreshold(1)}, json: `{"panicThreshold":1,"childPolicy":[{"round_robin":{}}]}`},
		{
			name: "outlier child", child: outlierChild, opts: []PolicyOption{WithLocalZone("b")},
			json: `{"localZone":"b","childPolicy":[{"grpckit_outlier_ejection":{"consecutiveFailures":3,"childPolicy":[{"grpckit_weighted_round_robin":{}}]}}]}`,
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
			if diff := cmp.Diff(mustParse(t, tt.json), got, cmpConfig...); diff != "" {
				t.Errorf("parsed config (-hand-written +built):\n%s", diff)
			}
			if got.child.Builder.Name() != tt.child.Name() {
				t.Errorf("child %q, want %q", got.child.Builder.Name(), tt.child.Name())
			}
		})
	}
}

// TestPolicyInvalid checks that every bad value of every field, and a bad
// child, is refused by Policy with an error prefixed "zoneaware: " that
// names the field.
func TestPolicyInvalid(t *testing.T) {
	rr := lbconfig.RoundRobin()
	self := lbconfig.Must(Policy(rr))
	tests := []struct {
		name    string
		child   lbconfig.Policy
		opt     PolicyOption
		wantErr string
	}{
		{"panic threshold negative", rr, WithPanicThreshold(-0.1), "panicThreshold -0.1 is outside [0, 1]"},
		{"panic threshold over 1", rr, WithPanicThreshold(1.5), "panicThreshold 1.5 is outside [0, 1]"},
		{"panic threshold NaN", rr, WithPanicThreshold(math.NaN()), "panicThreshold NaN is outside [0, 1]"},
		{"panic threshold Inf", rr, WithPanicThreshold(math.Inf(1)), "panicThreshold +Inf is outside [0, 1]"},
		{"min cluster size negative", rr, WithMinClusterSize(-1), "minClusterSize"},
		{"min cluster size over uint32", rr, WithMinClusterSize(1 << 40), "minClusterSize"},
		{"zero child", lbconfig.Policy{}, WithLocalZone("a"), "childPolicy is the zero lbconfig.Policy"},
		{"zone-aware child", self, WithLocalZone("a"), "childPolicy grpckit_zone_aware: a zone's child sees that zone's endpoints only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Policy(tt.child, tt.opt)
			if err == nil || !strings.HasPrefix(err.Error(), "zoneaware: ") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Policy = %v, %v; want an error prefixed \"zoneaware: \" containing %q", p, err, tt.wantErr)
			}
			if !p.IsZero() {
				t.Errorf("Policy returned %v with its error", p)
			}
		})
	}
}

// FuzzPolicy checks Policy against the parser fed the same values written
// by hand: Policy accepts exactly what the parser accepts (NaN and
// infinities, which JSON cannot carry, are refused), every Policy it builds
// parses, and to the same configuration. set's low two bits say whether
// panicThreshold and minClusterSize are set; child picks one of a few.
func FuzzPolicy(f *testing.F) {
	f.Add("", uint8(0), 0.0, int64(0), uint8(0))
	f.Add("eu-1a", uint8(3), 0.5, int64(3), uint8(1))
	f.Add("z\"\\\x00é", uint8(1), 1.0000001, int64(-1), uint8(2))
	f.Add("b", uint8(2), math.NaN(), int64(1)<<32, uint8(3))
	f.Add("b", uint8(1), math.Copysign(0, -1), int64(0), uint8(4))
	f.Fuzz(func(t *testing.T, zone string, set uint8, panicThreshold float64, minClusterSize int64, childIdx uint8) {
		children := []lbconfig.Policy{
			lbconfig.RoundRobin(), lbconfig.PickFirst(), lbconfig.Must(wrr.Policy()),
			lbconfig.Must(p2c.Policy(p2c.WithErrorPenalty(0))), lbconfig.Must(Policy(lbconfig.RoundRobin())),
		}
		child := children[int(childIdx)%len(children)]
		opts := []PolicyOption{WithLocalZone(zone)}
		var js []string
		if zone != "" {
			z, _ := json.Marshal(zone)
			js = append(js, `"localZone":`+string(z))
		}
		finite := !math.IsNaN(panicThreshold) && !math.IsInf(panicThreshold, 0)
		if set&1 != 0 {
			opts = append(opts, WithPanicThreshold(panicThreshold))
			js = append(js, `"panicThreshold":`+strconv.FormatFloat(panicThreshold, 'g', -1, 64))
		}
		if set&2 != 0 {
			opts = append(opts, WithMinClusterSize(int(minClusterSize)))
			js = append(js, `"minClusterSize":`+strconv.FormatInt(minClusterSize, 10))
		}
		js = append(js, fmt.Sprintf(`"childPolicy":[%s]`, child))
		hand := "{" + strings.Join(js, ",") + "}"
		want, wantErr := parseConfig([]byte(hand))
		if set&1 != 0 && !finite {
			want, wantErr = nil, fmt.Errorf("not JSON")
		}
		p, err := Policy(child, opts...)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%s (panicThreshold %v): Policy error %v, parser error %v", hand, panicThreshold, err, wantErr)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "zoneaware: ") {
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
