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

// localError reports whether an error is gRPC's own, raised on this side
// about a message rather than by a backend: the request did not marshal or
// is larger than MaxCallSendMsgSize (gRPC fails these after it has a
// transport stream but before a byte of the request is sent), or a reply
// is larger than MaxCallRecvMsgSize (before or after decompression) or did
// not unmarshal. gRPC says which only in the message. A backend that
// refuses a request over its own receive limit answers with the same
// "received message larger than max" message; that is not counted either,
// as the request's size is the caller's doing.
func localError(err error) bool {
	s, ok := status.FromError(err)
	if !ok {
		return false
	}
	msg := s.Message()
	switch s.Code() {
	case codes.Internal:
		return strings.HasPrefix(msg, "grpc: error while marshaling") ||
			strings.HasPrefix(msg, "grpc: failed to unmarshal the received message")
	case codes.ResourceExhausted:
		return strings.HasPrefix(msg, "trying to send message larger than max") ||
			strings.HasPrefix(msg, "grpc: received message larger than max") ||
			strings.HasPrefix(msg, "grpc: received message after decompression larger than max") ||
			strings.HasPrefix(msg, "grpc: message after decompression larger than max")
	}
	return false
}
