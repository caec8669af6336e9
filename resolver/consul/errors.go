package consul

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// redacted replaces a secret in messages.
const redacted = "[redacted]"

// newRedactor returns a replacer that hides token; with no token it changes
// nothing.
func newRedactor(token string) *strings.Replacer {
	if token == "" {
		return strings.NewReplacer()
	}
	return strings.NewReplacer(token, redacted)
}

// errorf formats an error and hides the token in it.
func errorf(r *strings.Replacer, format string, args ...any) error {
	return errors.New(r.Replace(fmt.Sprintf(format, args...)))
}

// errFilteredByACLs stands for an answer that is empty only because the
// token may not read what it would hold. Consul answers 200 then, not 403.
var errFilteredByACLs = errors.New("permission denied: every instance was filtered out by ACLs; the token needs service:read on the service and node:read on its nodes")

// queryError turns a failed health query into the error the channel reports:
// a status whose code says what went wrong (PermissionDenied for an ACL
// refusal, Unavailable for an unreachable agent) and whose message names the
// service but never the token.
func queryError(r *strings.Replacer, service string, err error) error {
	msg := r.Replace(fmt.Sprintf("consul: querying service %q: %v", service, err))
	return status.Error(codeOf(err), msg)
}

// codeOf maps an API error to the code RPCs fail with while the resolver has
// no state. Only codes a control plane may return are used (gRPC A54).
func codeOf(err error) codes.Code {
	if errors.Is(err, errFilteredByACLs) {
		return codes.PermissionDenied
	}
	var se api.StatusError
	if !errors.As(err, &se) {
		return codes.Unavailable
	}
	switch se.Code {
	case http.StatusForbidden, http.StatusUnauthorized:
		return codes.PermissionDenied
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	default:
		return codes.Unavailable
	}
}

// isNotFound reports whether err is the agent's 404.
func isNotFound(err error) bool {
	var se api.StatusError
	return errors.As(err, &se) && se.Code == http.StatusNotFound
}

// isRefusal reports whether err is the agent refusing a request, which it
// did not apply and would refuse again: a 4xx answer other than 429. A 5xx
// answer, as a proxy in front of the agent gives when the agent is
// unreachable or late, leaves open whether the request was applied, and a
// 429 asks to try again later.
func isRefusal(err error) bool {
	var se api.StatusError
	return errors.As(err, &se) && se.Code >= 400 && se.Code < 500 && se.Code != http.StatusTooManyRequests
}
