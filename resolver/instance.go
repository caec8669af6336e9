package resolver

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxWeight is the largest weight an Instance may carry. It leaves room for
// balancers to multiply weights by ring sizes and ramp fractions without
// overflowing 64-bit arithmetic.
const MaxWeight = 10000

// DefaultWeight is the weight of an Instance whose Weight is zero.
const DefaultWeight = 1

// ErrInvalidInstance is wrapped by every error Validate returns, so callers can
// test for it with errors.Is.
var ErrInvalidInstance = errors.New("grpckit/resolver: invalid instance")

// Instance is one server of a service as it is announced in a registry.
//
// The zero Weight means DefaultWeight. Zone and Version are free-form labels
// that balancers may route on; Metadata is carried along untouched. An Instance
// is a value: copy it freely, but do not modify a Metadata map after handing
// the Instance to a resolver or balancer.
type Instance struct {
	// ID identifies the instance within its service. Registrars default it to Addr.
	ID string
	// Service is the logical service name, such as "greeter".
	Service string
	// Addr is the dialable host:port of the instance.
	Addr string
	// Weight is the relative share of traffic the instance should take, in
	// [0, MaxWeight]; 0 means DefaultWeight.
	Weight uint32
	// Zone is the failure domain of the instance, such as "eu-1a".
	Zone string
	// Version is the software version the instance runs.
	Version string
	// Metadata holds any further labels.
	Metadata map[string]string
}

// EffectiveWeight returns the instance's weight with the zero value replaced by
// DefaultWeight and a weight above MaxWeight capped at MaxWeight, so that an
// Instance that skipped Validate still gives balancers a weight in
// [1, MaxWeight].
func (i Instance) EffectiveWeight() uint32 {
	if i.Weight == 0 {
		return DefaultWeight
	}
	return min(i.Weight, MaxWeight)
}

// Validate reports the first thing wrong with the instance, naming the field.
// The error wraps ErrInvalidInstance.
func (i Instance) Validate() error {
	if err := ValidateServiceName(i.Service); err != nil {
		return err
	}
	if strings.ContainsAny(i.ID, "/\x00") || strings.TrimSpace(i.ID) != i.ID {
		return invalidf("id %q must not contain '/' or NUL or surrounding space", i.ID)
	}
	if err := ValidateAddr(i.Addr); err != nil {
		return err
	}
	if i.Weight > MaxWeight {
		return invalidf("weight %d is above the maximum %d", i.Weight, MaxWeight)
	}
	return nil
}

// ValidateServiceName reports whether name can be used as a service name: not
// empty, no '/', no whitespace or control characters.
func ValidateServiceName(name string) error {
	if name == "" {
		return invalidf("service name is empty")
	}
	for _, r := range name {
		if r == '/' || r <= ' ' || r == 0x7f {
			return invalidf("service name %q contains %q", name, r)
		}
	}
	return nil
}

// ValidateAddr reports whether addr is a host:port that a client elsewhere
// can dial: a host with no space, '/' or control character, not an
// unspecified address (0.0.0.0 or ::, which name no machine: a listener's
// wildcard, as in lis.Addr().String() of a server listening on ":p"), and a
// numeric port in 1..65535.
func ValidateAddr(addr string) error {
	if addr == "" {
		return invalidf("address is empty")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return invalidf("address %q is not host:port: %v", addr, unwrapAddrErr(err))
	}
	if host == "" {
		return invalidf("address %q has no host: give the host clients dial, such as the machine's IP or name, not the listener's %q", addr, addr)
	}
	if i := strings.IndexFunc(host, badHostRune); i >= 0 {
		r, _ := utf8.DecodeRuneInString(host[i:])
		return invalidf("address %q has host %q, which contains %q", addr, host, r)
	}
	ip, ipErr := netip.ParseAddr(host)
	if ipErr != nil && strings.ContainsAny(host, ":%") {
		return invalidf("address %q has host %q, which is neither an IP address nor a name", addr, host)
	}
	if ipErr == nil && ip.WithZone("").Unmap().IsUnspecified() {
		return invalidf("address %q has the unspecified host %s, which no client can dial: "+
			"register (or dial) an address clients can reach, such as the machine's IP or name, not the listener's %q", addr, host, ":"+port)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return invalidf("address %q has port %q, want 1-65535", addr, port)
	}
	return nil
}

// badHostRune reports the characters a host never holds: space, '/', and
// control characters, which would also forge log lines.
func badHostRune(r rune) bool {
	return r == ' ' || r == '/' || unicode.IsControl(r) || r == utf8.RuneError
}

// Equal reports whether i and o describe the same instance in every field.
func (i Instance) Equal(o Instance) bool {
	return i.ID == o.ID && i.Service == o.Service && i.Addr == o.Addr &&
		i.Weight == o.Weight && i.Zone == o.Zone && i.Version == o.Version &&
		maps.Equal(i.Metadata, o.Metadata)
}

// String returns a short description for logs: service, id and the address
// quoted, as in greeter/a@"10.0.0.7:50051". The id is left out when it is the
// address; a service or id that is not plain printable text is quoted too, so
// that no registry value can forge a log line.
func (i Instance) String() string {
	addr := strconv.Quote(i.Addr)
	if i.ID == "" || i.ID == i.Addr {
		return quoteIfOdd(i.Service) + "@" + addr
	}
	return quoteIfOdd(i.Service) + "/" + quoteIfOdd(i.ID) + "@" + addr
}

// quoteIfOdd returns s, or s quoted when it is empty or holds anything but
// printable characters other than space, '"', '/' and '@'.
func quoteIfOdd(s string) string {
	plain := s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !unicode.IsPrint(r) || r == ' ' || r == '"' || r == '/' || r == '@'
	})
	if plain {
		return s
	}
	return strconv.Quote(s)
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidInstance}, args...)...)
}

// unwrapAddrErr drops net.AddrError's repetition of the address.
func unwrapAddrErr(err error) string {
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return ae.Err
	}
	return err.Error()
}
