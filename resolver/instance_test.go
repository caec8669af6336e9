package resolver

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/experimental/balancer/weight"
	"google.golang.org/grpc/resolver"
)

func TestInstanceValidate(t *testing.T) {
	good := Instance{ID: "a", Service: "greeter", Addr: "127.0.0.1:50051", Weight: 3}
	tests := []struct {
		name    string
		mutate  func(*Instance)
		wantErr string // substring; "" means valid
	}{
		{"valid", func(*Instance) {}, ""},
		{"ipv6", func(i *Instance) { i.Addr = "[::1]:8080" }, ""},
		{"hostname", func(i *Instance) { i.Addr = "greeter-0.svc:443" }, ""},
		{"zero weight means default", func(i *Instance) { i.Weight = 0 }, ""},
		{"max weight", func(i *Instance) { i.Weight = MaxWeight }, ""},
		{"empty service", func(i *Instance) { i.Service = "" }, "service name is empty"},
		{"slash in service", func(i *Instance) { i.Service = "a/b" }, `service name "a/b" contains '/'`},
		{"space in service", func(i *Instance) { i.Service = "a b" }, "contains ' '"},
		{"slash in id", func(i *Instance) { i.ID = "x/y" }, `id "x/y"`},
		{"empty addr", func(i *Instance) { i.Addr = "" }, "address is empty"},
		{"no port", func(i *Instance) { i.Addr = "127.0.0.1" }, "is not host:port: missing port in address"},
		{"no host", func(i *Instance) { i.Addr = ":80" }, "has no host"},
		{"port zero", func(i *Instance) { i.Addr = "h:0" }, `has port "0"`},
		{"port too big", func(i *Instance) { i.Addr = "h:65536" }, `has port "65536"`},
		{"port not numeric", func(i *Instance) { i.Addr = "h:http" }, `has port "http"`},
		{"weight too big", func(i *Instance) { i.Weight = MaxWeight + 1 }, "weight 10001 is above the maximum 10000"},
		{"ipv4 wildcard", func(i *Instance) { i.Addr = "0.0.0.0:50051" }, `register (or dial) an address clients can reach, such as the machine's IP or name, not the listener's ":50051"`},
		{"ipv6 wildcard", func(i *Instance) { i.Addr = "[::]:50051" }, `the unspecified host ::, which no client can dial`},
		{"long ipv6 wildcard", func(i *Instance) { i.Addr = "[0:0::0]:50051" }, `unspecified host`},
		{"mapped ipv4 wildcard", func(i *Instance) { i.Addr = "[::ffff:0.0.0.0]:1" }, `unspecified host`},
		{"zoned ipv6 wildcard", func(i *Instance) { i.Addr = "[::%eth0]:1" }, `unspecified host`},
		{"zoned link-local", func(i *Instance) { i.Addr = "[fe80::1%eth0]:1" }, ""},
		{"host:port as a host", func(i *Instance) { i.Addr = "[10.0.0.1:8080]:9090" }, `has host "10.0.0.1:8080", which is neither an IP address nor a name`},
		{"percent in a name", func(i *Instance) { i.Addr = "host%x:1" }, `neither an IP address nor a name`},
		{"newline in host", func(i *Instance) { i.Addr = "h\nINFO forged:1" }, `which contains '\n'`},
		{"escape in host", func(i *Instance) { i.Addr = "h\x1b:1" }, `which contains '\x1b'`},
		{"DEL in host", func(i *Instance) { i.Addr = "h\x7f:1" }, `which contains '\x7f'`},
		{"C1 control in host", func(i *Instance) { i.Addr = "h\u0085:1" }, `which contains '\u0085'`},
		{"bad utf-8 in host", func(i *Instance) { i.Addr = "h\xff:1" }, `which contains`},
		{"space in host", func(i *Instance) { i.Addr = "a b:1" }, `which contains ' '`},
		{"slash in host", func(i *Instance) { i.Addr = "a/b:1" }, `which contains '/'`},
		{"listener address", func(i *Instance) { i.Addr = ":50051" }, `not the listener's ":50051"`},
		{"ipv6 zone", func(i *Instance) { i.Addr = "[fe80::1%eth0]:1" }, ""},
		{"loopback", func(i *Instance) { i.Addr = "[::1]:1" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst := good
			tt.mutate(&inst)
			err := inst.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidInstance) {
				t.Fatalf("Validate() = %v, does not wrap ErrInvalidInstance", err)
			}
		})
	}
}

func TestAttributesRoundTrip(t *testing.T) {
	inst := Instance{ID: "a", Service: "greeter", Addr: "127.0.0.1:1", Weight: 7, Zone: "eu-1a", Version: "1.2", Metadata: map[string]string{"k": "v"}}
	ep := SetInstance(resolver.Endpoint{Addresses: []resolver.Address{{Addr: inst.Addr}}}, inst)
	got, ok := InstanceFrom(ep)
	if !ok {
		t.Fatal("InstanceFrom() found no instance")
	}
	if diff := cmp.Diff(inst, got); diff != "" {
		t.Fatalf("InstanceFrom() mismatch (-want +got):\n%s", diff)
	}
	if w := weight.FromEndpoint(ep).Weight; w != 7 {
		t.Fatalf("grpc-go weight attribute = %d, want 7", w)
	}
	if w := WeightOf(ep); w != 7 {
		t.Fatalf("WeightOf() = %d, want 7", w)
	}
	if z := ZoneOf(ep); z != "eu-1a" {
		t.Fatalf("ZoneOf() = %q, want eu-1a", z)
	}
}

func TestWeightOfFallbacks(t *testing.T) {
	bare := resolver.Endpoint{Addresses: []resolver.Address{{Addr: "a:1"}}}
	if w := WeightOf(bare); w != DefaultWeight {
		t.Fatalf("WeightOf(bare) = %d, want %d", w, DefaultWeight)
	}
	if w := WeightOf(weight.Set(bare, weight.EndpointInfo{Weight: 4})); w != 4 {
		t.Fatalf("WeightOf(grpc weight 4) = %d, want 4", w)
	}
	if w := WeightOf(weight.Set(bare, weight.EndpointInfo{Weight: 1 << 30})); w != MaxWeight {
		t.Fatalf("WeightOf(huge grpc weight) = %d, want it capped at %d", w, MaxWeight)
	}
	if w := WeightOf(SetInstance(bare, Instance{Addr: "a:1"})); w != DefaultWeight {
		t.Fatalf("WeightOf(instance weight 0) = %d, want %d", w, DefaultWeight)
	}
}

// TestWeightCappedWhereItEnters: an Instance that skipped Validate, with a
// weight above MaxWeight, reaches balancers capped, through every reader.
func TestWeightCappedWhereItEnters(t *testing.T) {
	bare := resolver.Endpoint{Addresses: []resolver.Address{{Addr: "a:1"}}}
	for _, w := range []uint32{MaxWeight, MaxWeight + 1, 1 << 28, 1<<32 - 1} {
		ep := SetInstance(bare, Instance{Service: "s", Addr: "a:1", Weight: w})
		inst, _ := InstanceFrom(ep)
		got := []uint32{WeightOf(ep), weight.FromEndpoint(ep).Weight, inst.Weight, inst.EffectiveWeight(), Instance{Weight: w}.EffectiveWeight()}
		for i, g := range got {
			if g != MaxWeight {
				t.Errorf("weight %d: reader %d sees %d, want %d (all: %v)", w, i, g, MaxWeight, got)
			}
		}
	}
}

func TestInstanceString(t *testing.T) {
	tests := []struct {
		inst Instance
		want string
	}{
		{Instance{Service: "greeter", Addr: "10.0.0.7:1"}, `greeter@"10.0.0.7:1"`},
		{Instance{Service: "greeter", ID: "10.0.0.7:1", Addr: "10.0.0.7:1"}, `greeter@"10.0.0.7:1"`},
		{Instance{Service: "greeter", ID: "a", Addr: "10.0.0.7:1"}, `greeter/a@"10.0.0.7:1"`},
		{Instance{Service: "greeter", ID: "a\nb", Addr: "h\n:1"}, `greeter/"a\nb"@"h\n:1"`},
		{Instance{Service: "g/x", ID: "a@b", Addr: "h:1"}, `"g/x"/"a@b"@"h:1"`},
		{Instance{}, `""@""`},
	}
	for _, tt := range tests {
		if got := tt.inst.String(); got != tt.want {
			t.Errorf("String() = %s, want %s", got, tt.want)
		}
	}
}

func TestAttributesEqual(t *testing.T) {
	inst := Instance{Service: "s", Addr: "a:1", Metadata: map[string]string{"k": "v"}}
	ep := resolver.Endpoint{Addresses: []resolver.Address{{Addr: "a:1"}}}
	a, b := SetInstance(ep, inst), SetInstance(ep, inst)
	if !a.Attributes.Equal(b.Attributes) {
		t.Fatal("equal instances give unequal attributes")
	}
	changed := inst
	changed.Metadata = map[string]string{"k": "w"}
	if a.Attributes.Equal(SetInstance(ep, changed).Attributes) {
		t.Fatal("instances with different metadata give equal attributes")
	}
}

func TestEndpointsSortsAndDedups(t *testing.T) {
	eps := Endpoints([]Instance{
		{ID: "z", Service: "s", Addr: "10.0.0.2:1"},
		{ID: "b", Service: "s", Addr: "10.0.0.1:1", Weight: 2},
		{ID: "a", Service: "s", Addr: "10.0.0.1:1", Weight: 9},
	})
	var got []string
	for _, ep := range eps {
		inst, _ := InstanceFrom(ep)
		got = append(got, inst.ID+"@"+ep.Addresses[0].Addr)
	}
	want := []string{"a@10.0.0.1:1", "z@10.0.0.2:1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Endpoints() mismatch (-want +got):\n%s", diff)
	}
}

// FuzzValidateAddr: an accepted address splits into a host with no control
// character, space or '/', that is not an unspecified IP, and a port in
// 1..65535; and no Instance's String holds a raw control character.
func FuzzValidateAddr(f *testing.F) {
	for _, s := range []string{"10.0.0.7:50051", "[::]:1", "0.0.0.0:1", "[::ffff:0.0.0.0]:1", "h\n:1", "h\u0085:1", "[fe80::1%eth0]:1", ":1", "h:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		inst := Instance{Service: "s", ID: addr, Addr: addr}
		if strings.ContainsFunc(inst.String(), unicode.IsControl) {
			t.Fatalf("String() = %q holds a control character", inst.String())
		}
		if ValidateAddr(addr) != nil {
			return
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host == "" || strings.ContainsFunc(host, badHostRune) {
			t.Fatalf("ValidateAddr accepted %q: host %q, %v", addr, host, err)
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			t.Fatalf("ValidateAddr accepted the unspecified %q", addr)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			t.Fatalf("ValidateAddr accepted port %q", port)
		}
	})
}
