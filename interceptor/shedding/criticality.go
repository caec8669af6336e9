package shedding

import (
	"context"
	"strings"

	"google.golang.org/grpc/metadata"
)

// Criticality says how important a call is: under overload the limiter
// sheds Sheddable calls first and Critical calls last. The zero value is
// Default.
type Criticality int8

// The criticalities, from the first shed to the last.
const (
	Sheddable Criticality = -1 // batch work, prefetches, retries that can wait
	Default   Criticality = 0  // an ordinary call
	Critical  Criticality = 1  // a call a user waits for and that must not fail
)

// CriticalityHeader is the metadata key a client sets to "critical",
// "default" or "sheddable" to say how important its call is. Other values,
// and several values, read as Default.
const CriticalityHeader = "grpckit-criticality"

// String returns the header value of c.
func (c Criticality) String() string {
	switch {
	case c < Default:
		return "sheddable"
	case c > Default:
		return "critical"
	}
	return "default"
}

type criticalityKey struct{}

// WithCriticality returns a copy of ctx that makes the calls of a server
// interceptor running with it (set by an interceptor chained before the
// limiter, say after authentication) as important as c. It takes precedence
// over CriticalityHeader. On a client, set the header instead:
//
//	ctx = metadata.AppendToOutgoingContext(ctx, shedding.CriticalityHeader, "sheddable")
func WithCriticality(ctx context.Context, c Criticality) context.Context {
	return context.WithValue(ctx, criticalityKey{}, c)
}

// CriticalityFrom returns the criticality of a server call: the one
// WithCriticality set, else the one CriticalityHeader names, else Default.
func CriticalityFrom(ctx context.Context) Criticality {
	if c, ok := ctx.Value(criticalityKey{}).(Criticality); ok {
		return max(Sheddable, min(c, Critical))
	}
	v := metadata.ValueFromIncomingContext(ctx, CriticalityHeader)
	if len(v) != 1 {
		return Default
	}
	return parseCriticality(v[0])
}

// parseCriticality reads a CriticalityHeader value: the names in ASCII, in
// any case, with spaces around; anything else is Default. It allocates
// nothing, whatever the value's size.
func parseCriticality(s string) Criticality {
	s = strings.TrimSpace(s)
	switch {
	case asciiFold(s, "critical"):
		return Critical
	case asciiFold(s, "sheddable"):
		return Sheddable
	}
	return Default
}

// asciiFold reports whether s is lower, a lower-case ASCII word, in any
// case of its ASCII letters (no Unicode folding: "ſheddable" is not it).
func asciiFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := range len(s) {
		if c := s[i]; c != lower[i] && c|0x20 != lower[i] {
			return false
		}
	}
	return true
}

// neverShed reports whether method belongs to a service that must answer
// however loaded the server is: health checks (a shed health check would
// make the balancer or the registry take a busy server out, moving its load
// to the others) and server reflection.
func neverShed(method string) bool {
	rest, ok := strings.CutPrefix(method, "/grpc.") // one comparison for most calls
	return ok && (isMethodOf(rest, "health.v1.Health/") ||
		isMethodOf(rest, "reflection.v1.ServerReflection/") ||
		isMethodOf(rest, "reflection.v1alpha.ServerReflection/"))
}

// isMethodOf reports whether method is "service/name" for the service that
// prefix ("service/") names: a path with more after the name ("/Check/x",
// which a server with an UnknownServiceHandler, a proxy say, passes on to
// another service) is not one of its methods.
func isMethodOf(method, prefix string) bool {
	name, ok := strings.CutPrefix(method, prefix)
	return ok && name != "" && !strings.Contains(name, "/")
}
