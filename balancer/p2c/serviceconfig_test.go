package p2c

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/grpckit/grpckit/balancer/internal/shard"
)

// TestPolicyRoundTrip checks that what Policy builds parses, with the
// policy's parser, to the configuration its options describe, and that a
// zero set by an option is kept apart from a field left out.
func TestPolicyRoundTrip(t *testing.T) {
	sd := func(d time.Duration) shard.Duration { return shard.Duration(d) }
	tests := []struct {
		name string
		opts []PolicyOption
		json string
		want Config
	}{
		{name: "defaults", json: `{}`, want: *defaultConfig()},
		{
			name: "every field",
			opts: []PolicyOption{WithDecayTime(5 * time.Second), WithErrorPenalty(500 * time.Millisecond), WithSlowStartWindow(time.Minute)},
			json: `{"decayTime":"5s","errorPenalty":"500ms","slowStartWindow":"1m0s"}`,
			want: Config{DecayTime: sd(5 * time.Second), ErrorPenalty: sd(500 * time.Millisecond), SlowStartWindow: sd(time.Minute)},
		},
		{
			name: "penalty off is not the default",
			opts: []PolicyOption{WithErrorPenalty(0)},
			json: `{"errorPenalty":"0s"}`,
			want: Config{DecayTime: sd(DefaultDecayTime)},
		},
		{
			name: "bounds",
			opts: []PolicyOption{WithDecayTime(MaxDecayTime), WithErrorPenalty(MinErrorPenalty), WithSlowStartWindow(MinSlowStartWindow)},
			json: `{"decayTime":"1h0m0s","errorPenalty":"1ms","slowStartWindow":"1s"}`,
			want: Config{DecayTime: sd(MaxDecayTime), ErrorPenalty: sd(MinErrorPenalty), SlowStartWindow: sd(MinSlowStartWindow)},
		},
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

// TestPolicyInvalid checks that every bad value of every field is refused by
// Policy with an error prefixed "p2c: " that names the field.
func TestPolicyInvalid(t *testing.T) {
	tests := []struct {
		name    string
		opt     PolicyOption
		wantErr string
	}{
		{"decay too short", WithDecayTime(MinDecayTime - 1), "decayTime 99.999999ms is under 100ms"},
		{"decay zero", WithDecayTime(0), "decayTime 0s is under 100ms"},
		{"decay too long", WithDecayTime(MaxDecayTime + 1), "decayTime 1h0m0.000000001s is over 1h0m0s"},
		{"decay negative", WithDecayTime(-time.Second), "decayTime -1s is negative"},
		{"penalty too small", WithErrorPenalty(MinErrorPenalty - 1), "errorPenalty 999.999µs is under 1ms"},
		{"penalty negative", WithErrorPenalty(-1), "errorPenalty -1ns is negative"},
		{"window too short", WithSlowStartWindow(MinSlowStartWindow - 1), "slowStartWindow 999.999999ms is under 1s"},
		{"window negative", WithSlowStartWindow(-time.Minute), "slowStartWindow -1m0s is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Policy(tt.opt)
			if err == nil || !strings.HasPrefix(err.Error(), "p2c: ") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Policy = %v, %v; want an error prefixed \"p2c: \" containing %q", p, err, tt.wantErr)
			}
			if !p.IsZero() {
				t.Errorf("Policy returned %v with its error", p)
			}
		})
	}
}

// FuzzPolicy checks Policy against the parser fed the same values written
// by hand: Policy accepts exactly what the parser accepts, every Policy it
// builds parses, and to the same configuration. set's low three bits say
// which of the fields are set.
func FuzzPolicy(f *testing.F) {
	f.Add(uint8(0), int64(0), int64(0), int64(0))
	f.Add(uint8(7), int64(MinDecayTime), int64(0), int64(MinSlowStartWindow))
	f.Add(uint8(7), int64(MaxDecayTime), int64(MinErrorPenalty), int64(0))
	f.Add(uint8(1), int64(MinDecayTime-1), int64(0), int64(0))
	f.Add(uint8(2), int64(0), int64(-1), int64(0))
	f.Add(uint8(4), int64(0), int64(0), int64(1<<63-1))
	f.Fuzz(func(t *testing.T, set uint8, decay, penalty, window int64) {
		fields := []struct {
			name string
			d    time.Duration
			opt  func(time.Duration) PolicyOption
		}{{"decayTime", time.Duration(decay), WithDecayTime}, {"errorPenalty", time.Duration(penalty), WithErrorPenalty}, {"slowStartWindow", time.Duration(window), WithSlowStartWindow}}
		var opts []PolicyOption
		var js []string
		for i, fl := range fields {
			if set&(1<<i) != 0 {
				opts = append(opts, fl.opt(fl.d))
				js = append(js, fmt.Sprintf("%q:%q", fl.name, fl.d.String()))
			}
		}
		want, wantErr := parseConfig([]byte("{" + strings.Join(js, ",") + "}"))
		p, err := Policy(opts...)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("{%s}: Policy error %v, parser error %v", strings.Join(js, ","), err, wantErr)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "p2c: ") || !strings.Contains(err.Error(), "decayTime") && !strings.Contains(err.Error(), "errorPenalty") && !strings.Contains(err.Error(), "slowStartWindow") {
				t.Fatalf("error %q does not name a field", err)
			}
			return
		}
		got, err := parseConfig(p.Config())
		if err != nil {
			t.Fatalf("the parser refused what Policy built, %s: %v", p, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("{%s} (-hand-written +built):\n%s", strings.Join(js, ","), diff)
		}
	})
}
