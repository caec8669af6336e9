package breaker

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// maxCode is the highest status code gRPC defines.
const maxCode = codes.Unauthenticated

// codeSet holds the status codes that count as failures.
type codeSet [maxCode + 1]bool

func newCodeSet(cs []codes.Code) *codeSet {
	var s codeSet
	for _, c := range cs {
		s[c] = true
	}
	return &s
}

func (s *codeSet) isFailure(err error) bool {
	c := status.Code(err)
	return c <= maxCode && s[c]
}

// outcome is what a finished call tells its breaker: nil for a success,
// or one of two fixed errors.
var (
	errFailure  = errors.New("breaker: failure")
	errExcluded = errors.New("breaker: not counted")
)

// classify maps the result of a call that reached a backend to what its
// breaker records: nil for a success, errFailure or errExcluded.
// Cancellation by the caller, seen as the caller's context being cancelled
// or as codes.Canceled, is never a failure nor a success.
func classify(ctx context.Context, err error, isFailure func(error) bool) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(ctx.Err(), context.Canceled), status.Code(err) == codes.Canceled:
		return errExcluded
	case isFailure(err):
		return errFailure
	}
	return nil
}

// sendError reports whether a unary call's error is gRPC's own refusal to
// send the request: the request did not marshal, or is larger than
// MaxCallSendMsgSize. gRPC fails these after it has a transport stream but
// before a byte of the request is sent, and says so only in the message.
func sendError(err error) bool {
	s, ok := status.FromError(err)
	if !ok {
		return false
	}
	switch s.Code() {
	case codes.Internal:
		return strings.HasPrefix(s.Message(), "grpc: error while marshaling")
	case codes.ResourceExhausted:
		return strings.HasPrefix(s.Message(), "trying to send message larger than max")
	}
	return false
}
