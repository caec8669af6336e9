package consistenthash

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPolicyRoundTrip checks that what Policy builds parses, with the
// policy's parser, to the configuration its options describe.
func TestPolicyRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		opts []PolicyOption
		json string
		want LBConfig
	}{
		{name: "defaults", json: `{}`, want: LBConfig{RingSize: DefaultRingSize, MissingKey: MissingKeyRandom}},
		{
			name: "every field",
			opts: []PolicyOption{WithHashHeader("x-user-id"), WithRingSize(MinRingSize), WithLoadFactor(1.25), WithMissingKey(MissingKeyFail)},
			json: `{"hashHeader":"x-user-id","ringSize":1024,"loadFactor":1.25,"missingKey":"fail"}`,
			want: LBConfig{HashHeader: "x-user-id", RingSize: MinRingSize, LoadFactor: 1.25, MissingKey: MissingKeyFail},
		},
		{
			name: "header lowercased by the parser",
			opts: []PolicyOption{WithHashHeader("X-Tenant"), WithRingSize(MaxRingSize), WithLoadFactor(1000), WithMissingKey(MissingKeyRandom)},
			json: `{"hashHeader":"X-Tenant","ringSize":16777216,"loadFactor":1000,"missingKey":"random"}`,
			want: LBConfig{HashHeader: "x-tenant", RingSize: MaxRingSize, LoadFactor: 1000, MissingKey: MissingKeyRandom},
		},
		{name: "bounded loads at 1", opts: []PolicyOption{WithLoadFactor(1)}, json: `{"loadFactor":1}`, want: LBConfig{RingSize: DefaultRingSize, LoadFactor: 1, MissingKey: MissingKeyRandom}},
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
// Policy with an error prefixed "consistenthash: " that names the field.
func TestPolicyInvalid(t *testing.T) {
	tests := []struct {
		name    string
		opt     PolicyOption
		wantErr string
	}{
		{"header with a space", WithHashHeader("x user"), `hashHeader "x user" contains ' '`},
		{"binary header", WithHashHeader("x-key-bin"), `hashHeader "x-key-bin" is a binary header`},
		{"reserved header", WithHashHeader("grpc-timeout"), `hashHeader "grpc-timeout" is reserved by gRPC`},
		{"pseudo-header", WithHashHeader(":authority"), `hashHeader ":authority" contains ':'`},
		{"ring too small", WithRingSize(MinRingSize / 2), "ringSize 512 must be a power of two in [1024, 16777216]"},
		{"ring too large", WithRingSize(MaxRingSize * 2), "ringSize 33554432 must be a power of two in [1024, 16777216]"},
		{"ring not a power of two", WithRingSize(3000), "ringSize 3000 must be a power of two"},
		{"ring negative", WithRingSize(-1024), "ringSize"},
		{"ring over uint32", WithRingSize(1 << 40), "ringSize"},
		{"load factor under 1", WithLoadFactor(0.5), "loadFactor 0.5 must be 0 (unbounded) or in [1, 1000]"},
		{"load factor negative", WithLoadFactor(-1), "loadFactor -1 must be 0"},
		{"load factor over 1000", WithLoadFactor(1001), "loadFactor 1001 must be 0"},
		{"load factor NaN", WithLoadFactor(math.NaN()), "loadFactor NaN must be 0"},
		{"load factor +Inf", WithLoadFactor(math.Inf(1)), "loadFactor +Inf must be 0"},
		{"load factor -Inf", WithLoadFactor(math.Inf(-1)), "loadFactor -Inf must be 0"},
		{"missing key mode", WithMissingKey("drop"), `missingKey "drop" must be "random" or "fail"`},
		{"missing key mode case", WithMissingKey("Fail"), `missingKey "Fail" must be`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Policy(tt.opt)
			if err == nil || !strings.HasPrefix(err.Error(), "consistenthash: ") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Policy = %v, %v; want an error prefixed \"consistenthash: \" containing %q", p, err, tt.wantErr)
			}
			if !p.IsZero() {
				t.Errorf("Policy returned %v with its error", p)
			}
		})
	}
}

// FuzzPolicy checks Policy against the parser fed the same values written
// by hand: Policy accepts exactly what the parser accepts (values JSON cannot
// carry, NaN and infinities, are refused), every Policy it builds parses, and
// to the same configuration.
func FuzzPolicy(f *testing.F) {
	f.Add("", int64(0), 0.0, "")
	f.Add("x-user-id", int64(MinRingSize), 1.0, MissingKeyFail)
	f.Add("X-A.b_c", int64(MaxRingSize), 1000.0, MissingKeyRandom)
	f.Add("grpc-x", int64(3), 0.999, "none")
	f.Add("k-bin", int64(-1), math.Inf(1), "")
	f.Add("é", int64(1)<<33, math.NaN(), "\x00")
	f.Fuzz(func(t *testing.T, header string, ring int64, lf float64, missing string) {
		var js []string
		if header != "" {
			h, _ := json.Marshal(header)
			js = append(js, `"hashHeader":`+string(h))
		}
		if ring != 0 {
			js = append(js, `"ringSize":`+strconv.FormatInt(ring, 10))
		}
		if lf != 0 && !math.IsNaN(lf) && !math.IsInf(lf, 0) {
			js = append(js, `"loadFactor":`+strconv.FormatFloat(lf, 'g', -1, 64))
		}
		if missing != "" {
			m, _ := json.Marshal(missing)
			js = append(js, `"missingKey":`+string(m))
		}
		hand := "{" + strings.Join(js, ",") + "}"
		want, wantErr := parseConfig([]byte(hand))
		if math.IsNaN(lf) || math.IsInf(lf, 0) {
			wantErr = errNotJSON
		}
		p, err := Policy(WithHashHeader(header), WithRingSize(int(ring)), WithLoadFactor(lf), WithMissingKey(missing))
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%s (loadFactor %v): Policy error %v, parser error %v", hand, lf, err, wantErr)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "consistenthash: ") {
				t.Fatalf("error %q is not prefixed with the package", err)
			}
			return
		}
		got, err := parseConfig(p.Config())
		if err != nil {
			t.Fatalf("the parser refused what Policy built, %s: %v", p, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-hand-written +built):\n%s", hand, diff)
		}
	})
}

var errNotJSON = &json.UnsupportedValueError{Str: "not a JSON number"}
