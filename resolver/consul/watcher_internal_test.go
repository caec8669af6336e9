package consul

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc/codes"
)

func TestNextIndex(t *testing.T) {
	tests := []struct {
		prev, got    uint64
		wantNext     uint64
		wantAdvanced bool
	}{
		{0, 0, 1, true},     // first answer, broken index: treat 0 as 1
		{0, 42, 42, true},   // first answer
		{42, 42, 42, false}, // wait time elapsed, nothing new
		{42, 43, 43, true},  // change
		{42, 7, 0, false},   // backwards: reset to a fresh read
		{1, 0, 1, false},    // 0 again (it became 1): an agent that always answers 0, not a reset
		{2, 0, 0, false},    // backwards to 0
		{7, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d->%d", tt.prev, tt.got), func(t *testing.T) {
			next, adv := nextIndex(tt.prev, tt.got)
			if diff := cmp.Diff([]any{tt.wantNext, tt.wantAdvanced}, []any{next, adv}); diff != "" {
				t.Fatalf("nextIndex(%d, %d) mismatch (-want +got):\n%s", tt.prev, tt.got, diff)
			}
		})
	}
}

func TestCodeOf(t *testing.T) {
	tests := []struct {
		err  error
		want codes.Code
	}{
		{errors.New("dial tcp: connection refused"), codes.Unavailable},
		{api.StatusError{Code: 403, Body: "Permission denied"}, codes.PermissionDenied},
		{fmt.Errorf("wrapped: %w", api.StatusError{Code: 403}), codes.PermissionDenied},
		{api.StatusError{Code: 401}, codes.PermissionDenied},
		{errFilteredByACLs, codes.PermissionDenied},
		{api.StatusError{Code: 404}, codes.Unavailable},
		{api.StatusError{Code: 429}, codes.ResourceExhausted},
		{api.StatusError{Code: 400}, codes.Unavailable},
		{api.StatusError{Code: 500}, codes.Unavailable},
	}
	for _, tt := range tests {
		if got := codeOf(tt.err); got != tt.want {
			t.Errorf("codeOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestQueryErrorRedactsToken(t *testing.T) {
	const tok = "0d9a7c4e-canary"
	err := queryError(newRedactor(tok), "greeter", fmt.Errorf("something echoed %s", tok))
	want := `rpc error: code = Unavailable desc = consul: querying service "greeter": something echoed [redacted]`
	if err.Error() != want {
		t.Fatalf("queryError() = %q, want %q", err, want)
	}
}
