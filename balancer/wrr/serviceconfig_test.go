package wrr

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/grpckit/grpckit/balancer/internal/shard"
)

// TestPolicyRoundTrip checks that what Policy builds parses, with the
// policy's parser, to the configuration its options describe.
func TestPolicyRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		opts []PolicyOption
		json string
		want Config
	}{
		{name: "defaults", json: `{}`, want: Config{}},
		{name: "slow start", opts: []PolicyOption{WithSlowStartWindow(30 * time.Second)}, json: `{"slowStartWindow":"30s"}`, want: Config{SlowStartWindow: shard.Duration(30 * time.Second)}},
		{name: "minimum window", opts: []PolicyOption{WithSlowStartWindow(MinSlowStartWindow)}, json: `{"slowStartWindow":"1s"}`, want: Config{SlowStartWindow: shard.Duration(MinSlowStartWindow)}},
		{name: "off again", opts: []PolicyOption{WithSlowStartWindow(time.Minute), WithSlowStartWindow(0)}, json: `{}`, want: Config{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Policy(tt.opts...)
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
			if diff := cmp.Diff(&tt.want, got); diff != "" {
				t.Errorf("parsed config (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPolicyInvalid checks that every bad value is refused by Policy with an
// error prefixed "wrr: " that names the field.
func TestPolicyInvalid(t *testing.T) {
	tests := []struct {
		name    string
		opt     PolicyOption
		wantErr string
	}{
		{"window under the minimum", WithSlowStartWindow(MinSlowStartWindow - 1), "slowStartWindow 999.999999ms is under 1s"},
		{"window of 1ns", WithSlowStartWindow(1), "slowStartWindow 1ns is under 1s"},
		{"negative window", WithSlowStartWindow(-time.Second), "slowStartWindow -1s is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Policy(tt.opt)
			if err == nil || !strings.HasPrefix(err.Error(), "wrr: ") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Policy = %v, %v; want an error prefixed \"wrr: \" containing %q", p, err, tt.wantErr)
			}
			if !p.IsZero() {
				t.Errorf("Policy returned %v with its error", p)
			}
		})
	}
}

// FuzzPolicy checks Policy against the parser fed the same value written by
// hand: Policy accepts exactly what the parser accepts, every Policy it
// builds parses, and to the same configuration.
func FuzzPolicy(f *testing.F) {
	for _, d := range []time.Duration{0, 1, -1, MinSlowStartWindow - 1, MinSlowStartWindow, time.Hour, 1<<63 - 1, -1 << 63} {
		f.Add(int64(d))
	}
	f.Fuzz(func(t *testing.T, window int64) {
		d := time.Duration(window)
		want, wantErr := parseConfig([]byte(fmt.Sprintf(`{"slowStartWindow":%q}`, d.String())))
		p, err := Policy(WithSlowStartWindow(d))
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("slowStartWindow %v: Policy error %v, parser error %v", d, err, wantErr)
		}
		if err != nil {
			if !strings.Contains(err.Error(), "slowStartWindow") {
				t.Fatalf("error %q does not name the field", err)
			}
			return
		}
		got, err := parseConfig(p.Config())
		if err != nil {
			t.Fatalf("the parser refused what Policy built, %s: %v", p, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("slowStartWindow %v (-hand-written +built):\n%s", d, diff)
		}
	})
}
