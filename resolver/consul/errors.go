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

// queryError turns a failed health query into the error the channel reports:
// a status whose code says what went wrong (PermissionDenied for an ACL
// refusal, Unavailable for an unreachable agent) and whose message names the
// service but never the token.
func queryError(r *strings.Replacer, service string, err error) error {
	msg := r.Replace(fmt.Sprintf("consul: querying service %q: %v", service, err))
	return status.Error(codeOf(err), msg)
}

// codeOf maps an API error to a gRPC code.
func codeOf(err error) codes.Code {
	var se api.StatusError
	if !errors.As(err, &se) {
		return codes.Unavailable
	}
	switch {
	case se.Code == http.StatusForbidden || se.Code == http.StatusUnauthorized:
		return codes.PermissionDenied
	case se.Code == http.StatusNotFound:
		return codes.NotFound
	case se.Code == http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case se.Code >= 400 && se.Code < 500:
		return codes.InvalidArgument
	default:
		return codes.Unavailable
	}
}

// isNotFound reports whether err is the agent's 404.
func isNotFound(err error) bool {
	var se api.StatusError
	return errors.As(err, &se) && se.Code == http.StatusNotFound
}
