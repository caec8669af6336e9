package debugz

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/connectivity"

	"github.com/grpckit/grpckit/internal/testutil"
)

// TestResolverErrorBeforeChild: a resolver error that reaches the policy
// before any state fails the channel's calls with it, as the other parents
// do, instead of leaving them waiting.
func TestResolverErrorBeforeChild(t *testing.T) {
	cc := testutil.NewBalancerClientConn()
	b := balancer.Get(PolicyName).Build(cc, balancer.BuildOptions{})
	defer b.Close()
	b.ResolverError(errors.New("etcd: unreachable"))
	st := cc.LastState()
	if st.ConnectivityState != connectivity.TransientFailure || st.Picker == nil {
		t.Fatalf("state after a resolver error: %+v", st)
	}
	if _, err := st.Picker.Pick(balancer.PickInfo{}); err == nil || !strings.Contains(err.Error(), "etcd: unreachable") {
		t.Errorf("pick: %v, want the resolver's error", err)
	}
}
