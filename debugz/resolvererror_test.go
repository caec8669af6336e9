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

// TestNoPageNoCounting: on a channel whose resolver no Page.Builder wraps,
// the policy hands gRPC its child's picker itself, counting nothing; with
// the tag of a page, a counting picker, and the page shows the channel.
func TestNoPageNoCounting(t *testing.T) {
	cfg, err := parseConfig([]byte(`{"childPolicy":[{"round_robin":{}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, withPage := range []bool{false, true} {
		cc := testutil.NewBalancerClientConn()
		b := balancer.Get(PolicyName).Build(cc, balancer.BuildOptions{})
		s := stateOf("10.0.0.1:1")
		p := New()
		if withPage {
			s.Attributes = s.Attributes.WithValue(channelTagKey{}, &channelTag{page: p, target: "t:///x", resolverID: 7})
		}
		if err := b.UpdateClientConnState(balancer.ClientConnState{ResolverState: s, BalancerConfig: cfg}); err != nil {
			t.Fatal(err)
		}
		cc.SetAllReady()
		_, counting := cc.LastState().Picker.(*picker)
		shown := len(p.Report().Balancers)
		if counting != withPage || shown != map[bool]int{false: 0, true: 1}[withPage] {
			t.Errorf("with a page %v: counting picker %v, %d balancers shown", withPage, counting, shown)
		}
		b.Close()
		if n := len(p.Report().Balancers); n != 0 {
			t.Errorf("with a page %v: %d balancers shown after Close", withPage, n)
		}
	}
}
