package childpolicy

import (
	"encoding/json"
	"testing"

	"google.golang.org/grpc/balancer/pickfirst"
	"google.golang.org/grpc/balancer/roundrobin"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, json, want, wantErr string
	}{
		{name: "absent", json: ``, want: roundrobin.Name},
		{name: "null", json: `null`, want: roundrobin.Name},
		{name: "one", json: `[{"pick_first":{}}]`, want: pickfirst.Name},
		{name: "first registered wins", json: `[{"nope":{}},{"pick_first":null},{"round_robin":{}}]`, want: pickfirst.Name},
		{name: "not a list", json: `{"round_robin":{}}`, wantErr: `childPolicy must be a list of {"<policy>":{...}} objects: json: cannot unmarshal object into Go value of type []map[string]json.RawMessage`},
		{name: "two keys", json: `[{"round_robin":{},"pick_first":{}}]`, wantErr: "childPolicy[0] must have exactly one key, has 2"},
		{name: "none registered", json: `[{"nope":{}},{"nada":{}}]`, wantErr: `no registered policy in childPolicy ["nope" "nada"]`},
		{name: "child config refused", json: `[{"pick_first":{"shuffleAddressList":"yes"}}]`, wantErr: `childPolicy "pick_first": `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(json.RawMessage(tt.json))
			if tt.wantErr != "" {
				if err == nil || len(err.Error()) < len(tt.wantErr) || err.Error()[:len(tt.wantErr)] != tt.wantErr {
					t.Fatalf("error %v, want one starting %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Builder.Name(); got != tt.want {
				t.Fatalf("policy %q, want %q", got, tt.want)
			}
		})
	}
}
