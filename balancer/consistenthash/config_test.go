package consistenthash

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseConfig(t *testing.T) {
	def := LBConfig{RingSize: DefaultRingSize, MissingKey: MissingKeyRandom}
	with := func(f func(*LBConfig)) LBConfig { c := def; f(&c); return c }
	tests := []struct {
		name    string
		js      string
		want    LBConfig
		wantErr string
	}{
		{name: "empty", js: ``, want: def},
		{name: "empty object", js: `{}`, want: def},
		{name: "all", js: `{"hashHeader":"X-User-ID","ringSize":4096,"loadFactor":1.25,"missingKey":"fail"}`,
			want: LBConfig{HashHeader: "x-user-id", RingSize: 4096, LoadFactor: 1.25, MissingKey: MissingKeyFail}},
		{name: "load factor one", js: `{"loadFactor":1}`, want: with(func(c *LBConfig) { c.LoadFactor = 1 })},
		{name: "max ring", js: `{"ringSize":16777216}`, want: with(func(c *LBConfig) { c.RingSize = MaxRingSize })},
		{name: "unknown field", js: `{"hashKey":"x"}`, wantErr: "unknown field"},
		{name: "not json", js: `{`, wantErr: "invalid config"},
		{name: "ring not power of two", js: `{"ringSize":5000}`, wantErr: "power of two"},
		{name: "ring too small", js: `{"ringSize":512}`, wantErr: "ringSize 512"},
		{name: "ring too big", js: `{"ringSize":33554432}`, wantErr: "ringSize 33554432"},
		{name: "negative ring", js: `{"ringSize":-1}`, wantErr: "invalid config"},
		{name: "load factor below one", js: `{"loadFactor":0.5}`, wantErr: "loadFactor 0.5"},
		{name: "negative load factor", js: `{"loadFactor":-1}`, wantErr: "loadFactor -1"},
		{name: "huge load factor", js: `{"loadFactor":1e9}`, wantErr: "loadFactor"},
		{name: "missing key", js: `{"missingKey":"drop"}`, wantErr: `missingKey "drop"`},
		{name: "binary header", js: `{"hashHeader":"key-bin"}`, wantErr: "binary header"},
		{name: "header with space", js: `{"hashHeader":"x user"}`, wantErr: "contains ' '"},
		{name: "pseudo header", js: `{"hashHeader":":authority"}`, wantErr: "contains ':'"},
		{name: "grpc header", js: `{"hashHeader":"grpc-timeout"}`, wantErr: "reserved"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := builder{}.ParseConfig([]byte(tc.js))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "consistenthash: ") {
					t.Fatalf("ParseConfig(%s) error = %v, want one containing %q", tc.js, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig(%s): %v", tc.js, err)
			}
			if diff := cmp.Diff(&tc.want, got, cmpopts.IgnoreFields(LBConfig{}, "LoadBalancingConfig")); diff != "" {
				t.Errorf("ParseConfig(%s) mismatch (-want +got):\n%s", tc.js, diff)
			}
		})
	}
}
