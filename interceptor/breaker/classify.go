package breaker

import (
	"context"
	"errors"

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

// outcome is what a finished call tells its breaker. gobreaker is handed one
// of three fixed errors, so its hooks need no classification of their own.
var (
	errFailure  = errors.New("breaker: failure")
	errExcluded = errors.New("breaker: not counted")
)

func isExcluded(err error) bool { return err == errExcluded }

// classify maps a call's result to what its breaker records: nil for a
// success, errFailure or errExcluded. Cancellation by the caller, seen as
// the caller's context being cancelled or as codes.Canceled, is never a
// failure nor a success.
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
