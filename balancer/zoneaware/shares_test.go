package zoneaware

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/grpc/balancer"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestShares(t *testing.T) {
	abc := func(a, b, c float64) []zoneLoad {
		return []zoneLoad{{"a", 2, a}, {"b", 2, b}, {"c", 2, c}}
	}
	tests := []struct {
		name      string
		loads     []zoneLoad
		local     string
		panic     float64
		endpoints int
		minSize   int
		want      []float64
		wantMode  string
	}{
		{"all healthy stays local", abc(2, 2, 2), "a", 0.5, 6, 0, []float64{1, 0, 0}, modeLocal},
		{"half the local zone down spills by spare capacity", abc(1, 2, 2), "a", 0.5, 6, 0, []float64{0.6, 0.2, 0.2}, modeSpill},
		{"spill goes to the zone with spare capacity", abc(1, 2, 1), "a", 0.5, 6, 0, []float64{0.75, 0.25, 0}, modeSpill},
		{"local zone down spills everything", abc(0, 2, 2), "a", 0.5, 6, 0, []float64{0, 0.5, 0.5}, modeSpill},
		{"a remote zone down keeps local", abc(2, 0, 2), "a", 0.5, 6, 0, []float64{1, 0, 0}, modeLocal},
		{"under the panic threshold zones are ignored", abc(2, 0, 0), "a", 0.5, 6, 0, []float64{1, 0, 0}, modePanic},
		{"panic spreads by READY weight", []zoneLoad{{"a", 2, 2}, {"b", 2, 1}}, "a", 0.8, 4, 0, []float64{2.0 / 3, 1.0 / 3}, modePanic},
		{"panic threshold 0 never panics", abc(0, 1, 0), "a", 0, 6, 0, []float64{0, 1, 0}, modeSpill},
		{"unknown local zone spreads by READY weight", abc(2, 2, 1), "x", 0.5, 6, 0, []float64{0.4, 0.4, 0.2}, modeAny},
		{"no local zone spreads by READY weight", abc(2, 2, 2), "", 0.5, 6, 0, []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}, modeAny},
		{"small cluster spreads by READY weight", abc(2, 2, 2), "a", 0.5, 6, 7, []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}, modeAny},
		{"nothing READY spreads by size", []zoneLoad{{"a", 1, 0}, {"b", 3, 0}}, "a", 0.5, 4, 0, []float64{0.25, 0.75}, modeNoReady},
		{"weights count, not endpoints", []zoneLoad{{"a", 10, 5}, {"b", 10, 10}}, "a", 0.5, 4, 0, []float64{2.0 / 3, 1.0 / 3}, modeSpill},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, mode := shares(tt.loads, tt.local, tt.panic, tt.endpoints, tt.minSize)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
				t.Errorf("shares (-want +got):\n%s", diff)
			}
			if mode != tt.wantMode {
				t.Errorf("mode = %q, want %q", mode, tt.wantMode)
			}
		})
	}
}

func TestPickerFollowsShares(t *testing.T) {
	// Zone pickers that name themselves through the SubConn they return.
	zones := []string{"a", "b", "c"}
	pickers := make([]balancer.Picker, len(zones))
	for i, z := range zones {
		pickers[i] = namedPicker(z)
	}
	p := newPicker([]float64{0.6, 0, 0.4}, pickers)
	got := map[string]int{}
	const n = 20000
	for range n {
		res, err := p.Pick(balancer.PickInfo{})
		if err != nil {
			t.Fatal(err)
		}
		got[string(res.SubConn.(namedSubConn).name)]++
	}
	if got["b"] != 0 || !near(got["a"], 0.6*n) || !near(got["c"], 0.4*n) {
		t.Fatalf("picks by zone %v, want about 60%% a, 40%% c, none b", got)
	}
}

// near reports whether n is within 3% of the total of want.
func near(n int, want float64) bool { return float64(n) > want-600 && float64(n) < want+600 }

type namedSubConn struct {
	balancer.SubConn
	name string
}

type namedPicker string

func (p namedPicker) Pick(balancer.PickInfo) (balancer.PickResult, error) {
	return balancer.PickResult{SubConn: namedSubConn{name: string(p)}}, nil
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    string // child policy name, or the error
		zone    string
		panicTh float64
	}{
		{"defaults", `{}`, "round_robin", "", DefaultPanicThreshold},
		{"full", `{"localZone":"eu-1a","panicThreshold":0.3,"childPolicy":[{"pick_first":{}}]}`, "pick_first", "eu-1a", 0.3},
		{"first registered child wins", `{"childPolicy":[{"no_such_policy":{}},{"round_robin":{}}]}`, "round_robin", "", DefaultPanicThreshold},
		{"no registered child", `{"childPolicy":[{"no_such_policy":{}}]}`, `zoneaware: no registered policy in childPolicy ["no_such_policy"]`, "", 0},
		{"child entry with two keys", `{"childPolicy":[{"a":{},"b":{}}]}`, "zoneaware: childPolicy[0] must have exactly one key, has 2", "", 0},
		{"child config rejected by the child", `{"childPolicy":[{"pick_first":{"shuffleAddressList":"yes"}}]}`, "error", "", 0},
		{"panic threshold over 1", `{"panicThreshold":1.5}`, "zoneaware: panicThreshold 1.5 is outside [0, 1]", "", 0},
		{"unknown field", `{"localZones":"a"}`, `zoneaware: bad config: json: unknown field "localZones"`, "", 0},
		{"panic threshold under 0", `{"panicThreshold":-0.1}`, "zoneaware: panicThreshold -0.1 is outside [0, 1]", "", 0},
		{"panic threshold bounds", `{"panicThreshold":1}`, "round_robin", "", 1},
		{"negative cluster size", `{"minClusterSize":-1}`, "zoneaware: bad config: json: cannot unmarshal number -1 into Go struct field jsonConfig.minClusterSize of type uint32", "", 0},
		{"nested zone-aware", `{"childPolicy":[{"grpckit_zone_aware":{}}]}`, "zoneaware: childPolicy grpckit_zone_aware: a zone's child sees that zone's endpoints only, so a nested zone-aware policy never prefers a zone", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseConfig(json.RawMessage(tt.json))
			if err != nil {
				if tt.want != "error" && err.Error() != tt.want {
					t.Fatalf("error %q, want %q", err, tt.want)
				}
				return
			}
			if strings.HasPrefix(tt.want, "zoneaware:") || tt.want == "error" {
				t.Fatalf("config accepted, want error %q", tt.want)
			}
			got := []any{cfg.child.Builder.Name(), cfg.localZone, cfg.panicThreshold}
			if diff := cmp.Diff([]any{tt.want, tt.zone, tt.panicTh}, got); diff != "" {
				t.Fatalf("config (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPanicThresholdBoundary: a READY share exactly at panicThreshold is not
// under it, whatever the threshold and weights (the share and threshold
// compared as fractions, not as a product that rounds up), and one unit of
// weight less is.
func TestPanicThresholdBoundary(t *testing.T) {
	for p := 1; p < 100; p++ {
		threshold := float64(p) / 100 // as JSON's 0.07 parses
		for total := 1; total <= 200; total++ {
			if p*total%100 != 0 {
				continue
			}
			ready := p * total / 100
			loads := []zoneLoad{{"a", float64(total), float64(ready)}}
			if _, mode := shares(loads, "a", threshold, total, 0); mode == modePanic {
				t.Errorf("panicThreshold %v: %d of %d READY (exactly the threshold) panics", threshold, ready, total)
			}
			loads[0].ready--
			if _, mode := shares(loads, "a", threshold, total, 0); ready > 1 && mode != modePanic {
				t.Errorf("panicThreshold %v: %d of %d READY (under the threshold) gives mode %s", threshold, ready-1, total, mode)
			}
		}
	}
}
