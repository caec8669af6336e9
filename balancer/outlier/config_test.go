package outlier

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
)

// view is the comparable part of an lbConfig.
type view struct {
	Consecutive, MinRequests, MaxPercent uint32
	Rate                                 float64
	Interval, Base, Max                  time.Duration
	Codes                                uint32
	Child                                string
}

func viewOf(c *lbConfig) view {
	return view{c.consecutiveFailures, c.minRequests, c.maxEjectionPercent, c.failureRate,
		c.interval, c.baseEjection, c.maxEjection, c.failureCodes, c.child.Builder.Name()}
}

func TestParseConfig(t *testing.T) {
	defaults := view{5, 20, 50, 0.5, 10 * time.Second, 30 * time.Second, 300 * time.Second, codeMask(defaultFailureCodes), "round_robin"}
	tests := []struct {
		name    string
		json    string
		want    view
		wantErr string
	}{
		{name: "defaults", json: `{}`, want: defaults},
		{name: "all fields", json: `{"consecutiveFailures":7,"failureRateThreshold":0.2,"failureRateMinRequests":9,
			"interval":"1s","baseEjectionTime":"2s","maxEjectionTime":"3s","maxEjectionPercent":10,
			"failureCodes":["UNAVAILABLE",13],"childPolicy":[{"pick_first":{}}]}`,
			want: view{7, 9, 10, 0.2, time.Second, 2 * time.Second, 3 * time.Second, 1<<codes.Unavailable | 1<<codes.Internal, "pick_first"}},
		{name: "zero turns rules off", json: `{"consecutiveFailures":0,"failureRateThreshold":0}`,
			want: func() view { v := defaults; v.Consecutive, v.Rate = 0, 0; return v }()},
		{name: "rate over 1", json: `{"failureRateThreshold":1.5}`, wantErr: "outlier: failureRateThreshold 1.5 is outside [0, 1]"},
		{name: "zero interval", json: `{"interval":"0s"}`, wantErr: "outlier: interval 0s is under 100ms: a sweep of every endpoint that often costs CPU and judges failure rates on too few calls"},
		{name: "interval of 1ms", json: `{"interval":"1ms"}`, wantErr: "outlier: interval 1ms is under 100ms: a sweep of every endpoint that often costs CPU and judges failure rates on too few calls"},
		{name: "negative interval", json: `{"interval":"-10s"}`, wantErr: "outlier: interval -10s is under 100ms: a sweep of every endpoint that often costs CPU and judges failure rates on too few calls"},
		{name: "shortest interval and ejection", json: `{"interval":"100ms","baseEjectionTime":"100ms","maxEjectionTime":"100ms"}`,
			want: func() view {
				v := defaults
				v.Interval, v.Base, v.Max = MinInterval, MinEjectionTime, MinEjectionTime
				return v
			}()},
		{name: "ejection of 1ns", json: `{"baseEjectionTime":"1ns"}`, wantErr: "outlier: baseEjectionTime 1ns is under 100ms: an ejection that short barely takes the endpoint out of rotation"},
		{name: "zero ejection", json: `{"baseEjectionTime":"0s","maxEjectionTime":"0s"}`, wantErr: "outlier: baseEjectionTime 0s is under 100ms: an ejection that short barely takes the endpoint out of rotation"},
		{name: "no failure codes", json: `{"failureCodes":[]}`, wantErr: "outlier: failureCodes is empty: no RPC would count as a failure; leave it out for the default"},
		{name: "unknown failure code", json: `{"failureCodes":[99]}`, wantErr: "outlier: bad config: failureCodes: invalid code: 99"},
		{name: "bad duration", json: `{"interval":"ten"}`, wantErr: `outlier: interval: time: invalid duration "ten"`},
		{name: "max under base", json: `{"baseEjectionTime":"1m","maxEjectionTime":"30s"}`, wantErr: "outlier: maxEjectionTime 30s is shorter than baseEjectionTime 1m0s"},
		{name: "percent over 100", json: `{"maxEjectionPercent":101}`, wantErr: "outlier: maxEjectionPercent 101 is over 100"},
		{name: "cancelled is not a failure", json: `{"failureCodes":["CANCELLED"]}`, wantErr: "outlier: failureCodes may not list OK or CANCELLED"},
		{name: "unknown field", json: `{"consecutiveFailure":3}`, wantErr: `outlier: bad config: json: unknown field "consecutiveFailure"`},
		{name: "negative count", json: `{"consecutiveFailures":-1}`, wantErr: "outlier: bad config: json: cannot unmarshal number -1 into Go struct field jsonConfig.consecutiveFailures of type uint32"},
		{name: "unregistered child", json: `{"childPolicy":[{"nope":{}}]}`, wantErr: `outlier: no registered policy in childPolicy ["nope"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseConfig(json.RawMessage(tt.json))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, viewOf(cfg)); diff != "" {
				t.Fatalf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEjectionTime(t *testing.T) {
	c := &lbConfig{baseEjection: 30 * time.Second, maxEjection: 100 * time.Second}
	var got []time.Duration
	for n := 1; n <= 5; n++ {
		got = append(got, c.ejectionTime(n))
	}
	want := []time.Duration{30 * time.Second, 60 * time.Second, 90 * time.Second, 100 * time.Second, 100 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("ejection times (-want +got):\n%s", diff)
	}
}

// TestEjectionTimeNeverWraps: baseEjectionTime × n past the largest
// duration is maxEjectionTime, at every n, not a wrapped product.
func TestEjectionTimeNeverWraps(t *testing.T) {
	const huge = time.Duration(1) << 62
	for _, c := range []*lbConfig{
		{baseEjection: huge, maxEjection: huge + 1},
		{baseEjection: huge / 3, maxEjection: huge},
		{baseEjection: time.Hour, maxEjection: time.Duration(1<<63 - 1)},
	} {
		for _, n := range []int{1, 2, 3, 4, 5, 7, 1 << 20, 1 << 40, 1<<62 + 1} {
			want := c.maxEjection
			if exact := c.baseEjection * time.Duration(n); exact/time.Duration(n) == c.baseEjection && exact < c.maxEjection {
				want = exact // base×n did not overflow
			}
			if got := c.ejectionTime(n); got != want {
				t.Fatalf("base %v, max %v: ejection %d lasts %v, want %v", c.baseEjection, c.maxEjection, n, got, want)
			}
		}
	}
}
