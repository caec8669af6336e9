package etcd

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

func TestDecodeValue(t *testing.T) {
	inst := func(addr string, mutate ...func(*kitresolver.Instance)) kitresolver.Instance {
		i := kitresolver.Instance{ID: "i1", Service: "greeter", Addr: addr}
		for _, m := range mutate {
			m(&i)
		}
		return i
	}
	tests := []struct {
		name    string
		value   string
		want    kitresolver.Instance
		wantErr string // substring; "" means valid
	}{
		{"ours, full", `{"addr":"10.0.0.7:50051","weight":3,"zone":"eu-1a","version":"1.4.2","metadata":{"k":"v"}}`,
			inst("10.0.0.7:50051", func(i *kitresolver.Instance) {
				i.Weight, i.Zone, i.Version, i.Metadata = 3, "eu-1a", "1.4.2", map[string]string{"k": "v"}
			}), ""},
		{"ours, address only", `{"addr":"h:1"}`, inst("h:1"), ""},
		{"surrounding space", " \n{\"addr\":\"h:1\"}\n", inst("h:1"), ""},
		{"plain host:port", "10.0.0.8:443", inst("10.0.0.8:443"), ""},
		{"plain ipv6", "[::1]:80\n", inst("[::1]:80"), ""},
		{"etcd endpoints", `{"Op":0,"Addr":"10.0.0.9:1","Metadata":null}`, inst("10.0.0.9:1"), ""},
		{"etcd endpoints, object metadata", `{"Op":0,"Addr":"h:2","Metadata":{"a":"b","n":1,"o":{"x": true}}}`,
			inst("h:2", func(i *kitresolver.Instance) {
				i.Metadata = map[string]string{"a": "b", "n": "1", "o": `{"x":true}`}
			}), ""},
		{"etcd endpoints, string metadata dropped", `{"Op":0,"Addr":"h:3","Metadata":"label"}`, inst("h:3"), ""},
		{"max weight", `{"addr":"h:1","weight":10000}`, inst("h:1", func(i *kitresolver.Instance) { i.Weight = 10000 }), ""},
		{"empty", "", kitresolver.Instance{}, "empty value"},
		{"blank", "  \n", kitresolver.Instance{}, "empty value"},
		{"broken JSON", `{"addr":`, kitresolver.Instance{}, "not valid JSON"},
		{"JSON array", `["h:1"]`, kitresolver.Instance{}, "address"},
		{"negative weight", `{"addr":"h:1","weight":-1}`, kitresolver.Instance{}, "weight -1 is outside"},
		{"huge weight", `{"addr":"h:1","weight":10001}`, kitresolver.Instance{}, "weight 10001 is outside"},
		{"overflowing weight", `{"addr":"h:1","weight":1e30}`, kitresolver.Instance{}, "not valid JSON"},
		{"fractional weight", `{"addr":"h:1","weight":1.5}`, kitresolver.Instance{}, "not valid JSON"},
		{"string weight", `{"addr":"h:1","weight":"3"}`, kitresolver.Instance{}, "not valid JSON"},
		{"missing addr", `{"weight":3}`, kitresolver.Instance{}, "address is empty"},
		{"no port", `{"addr":"10.0.0.1"}`, kitresolver.Instance{}, "missing port"},
		{"plain no port", "10.0.0.1", kitresolver.Instance{}, "missing port"},
		{"plain garbage", "not an address", kitresolver.Instance{}, "not host:port"},
		{"etcd delete op", `{"Op":1,"Addr":"h:1"}`, kitresolver.Instance{}, "op 1 is not an addition"},
		{"port zero", `{"addr":"h:0"}`, kitresolver.Instance{}, `port "0"`},
		{"plain invalid UTF-8", "\xb3:1", kitresolver.Instance{}, "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeValue("greeter", "i1", []byte(tt.value))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("decodeValue(%q) = %v, %v; want error containing %q", tt.value, got, err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "etcd: ") {
					t.Fatalf("error %q is not prefixed with the package name", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeValue(%q) = %v", tt.value, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("decodeValue(%q) mismatch (-want +got):\n%s", tt.value, diff)
			}
		})
	}
}

func TestDecodeValueRejectsBadID(t *testing.T) {
	if _, err := decodeValue("greeter", "a/b", []byte("h:1")); err == nil {
		t.Fatal("decodeValue accepted an id with a '/'")
	}
}

func TestEncodeValueRoundTrip(t *testing.T) {
	tests := []kitresolver.Instance{
		{ID: "a", Service: "greeter", Addr: "h:1"},
		{ID: "b", Service: "greeter", Addr: "[::1]:2", Weight: 7, Zone: "z", Version: "v1", Metadata: map[string]string{"k": "v", "e": ""}},
	}
	for _, inst := range tests {
		v, err := encodeValue(inst)
		if err != nil {
			t.Fatalf("encodeValue(%v) = %v", inst, err)
		}
		got, err := decodeValue(inst.Service, inst.ID, v)
		if err != nil {
			t.Fatalf("decodeValue(%s) = %v", v, err)
		}
		if diff := cmp.Diff(inst, got); diff != "" {
			t.Fatalf("round trip of %s mismatch (-want +got):\n%s", v, diff)
		}
	}
}

// etcdUpdate mirrors the JSON that etcd's naming/endpoints reads and writes
// (its internal.Update), to show that etcd's resolver reads our values.
type etcdUpdate struct {
	Op       uint8
	Addr     string
	Metadata any
}

func TestEncodeValueReadableByEtcdEndpoints(t *testing.T) {
	v, err := encodeValue(kitresolver.Instance{ID: "a", Service: "s", Addr: "h:1", Weight: 2, Metadata: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	var got etcdUpdate
	if err := json.Unmarshal(v, &got); err != nil {
		t.Fatalf("etcd's format cannot read %s: %v", v, err)
	}
	want := etcdUpdate{Op: 0, Addr: "h:1", Metadata: map[string]any{"k": "v"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("etcd's view of %s mismatch (-want +got):\n%s", v, diff)
	}
}

// FuzzDecodeValue checks that no value makes the decoder panic, that every
// accepted value gives a valid Instance, and that it survives a round trip.
func FuzzDecodeValue(f *testing.F) {
	for _, s := range []string{
		`{"addr":"10.0.0.7:50051","weight":3,"zone":"eu-1a","version":"1.4.2","metadata":{"k":"v"}}`,
		`{"Op":0,"Addr":"h:1","Metadata":{"n":1}}`, "h:1", "[::1]:80", `{"addr":"h:1","weight":-1}`, "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		inst, err := decodeValue("svc", "id", []byte(value))
		if err != nil {
			return
		}
		if verr := inst.Validate(); verr != nil {
			t.Fatalf("decodeValue(%q) accepted an invalid instance: %v", value, verr)
		}
		v, err := encodeValue(inst)
		if err != nil {
			t.Fatalf("encodeValue(%v) = %v", inst, err)
		}
		again, err := decodeValue("svc", "id", v)
		if err != nil || !again.Equal(inst) {
			t.Fatalf("round trip of %q: got %v, %v; want %v", value, again, err, inst)
		}
	})
}
