package outlier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/resolver"

	_ "github.com/grpckit/grpckit/balancer/wrr" // a second child policy
	"github.com/grpckit/grpckit/internal/testutil"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestSubConnCreatedWhileEjectedIsFailed: a SubConn the child creates for an
// endpoint that is ejected (after a child policy change here; under
// zone-aware, when the endpoint moves zone) is reported to the child as
// TRANSIENT_FAILURE like the SubConns ejected before it, so with every
// endpoint ejected calls fail fast instead of waiting for a connection the
// child never hears of; and it comes back when the ejection ends.
func TestSubConnCreatedWhileEjectedIsFailed(t *testing.T) {
	const cfgFmt = `{"consecutiveFailures":2,"failureRateThreshold":0,"interval":"10s",
		"baseEjectionTime":"30s","maxEjectionTime":"30s","maxEjectionPercent":100,"childPolicy":[{"%s":{}}]}`
	h := newHarness(t, sprintf(cfgFmt, "round_robin"), 1)
	h.fail(0, 2)
	h.waitFailing("with its endpoint ejected")

	cfg, err := parseConfig(json.RawMessage(sprintf(cfgFmt, "grpckit_weighted_round_robin")))
	if err != nil {
		t.Fatal(err)
	}
	s := balancer.ClientConnState{ResolverState: resolver.State{Endpoints: kitresolver.Endpoints([]kitresolver.Instance{{Addr: h.addrs[0]}})}, BalancerConfig: cfg}
	if err := h.b.UpdateClientConnState(s); err != nil {
		t.Fatal(err)
	}
	for range 2 { // READY, then the health update for the listener registered on READY
		h.cc.SetAllReady()
		h.sync()
	}
	h.waitFailing("with its endpoint ejected, after the child changed")

	h.clock.Advance(30 * time.Second)
	h.sync()
	h.waitPicks(h.addrs[0])
}

func sprintf(format, child string) string { return fmt.Sprintf(format, child) }

// waitFailing waits until the channel is in TRANSIENT_FAILURE and picks fail
// with an error other than ErrNoSubConnAvailable (which makes a call wait).
func (h *harness) waitFailing(when string) {
	h.t.Helper()
	var st balancer.State
	var err error
	for deadline := time.Now().Add(testutil.DefaultTimeout); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		h.sync()
		st = h.cc.LastState()
		if st.Picker == nil {
			continue
		}
		_, err = st.Picker.Pick(balancer.PickInfo{Ctx: context.Background()})
		if st.ConnectivityState == connectivity.TransientFailure && err != nil && !errors.Is(err, balancer.ErrNoSubConnAvailable) {
			return
		}
	}
	h.t.Fatalf("%s: channel %v, picks fail with %v; want TRANSIENT_FAILURE and failing picks", when, st.ConnectivityState, err)
}

// TestResolverErrorBeforeEndpoints: gRPC can hand the policy a resolver
// error before any endpoint (the default service config is applied then);
// calls fail with that error at once instead of waiting for their deadline.
func TestResolverErrorBeforeEndpoints(t *testing.T) {
	cc := testutil.NewBalancerClientConn()
	b := NewBuilder(WithName("outlier_resolver_error_test")).Build(cc, balancer.BuildOptions{})
	defer b.Close()
	b.ResolverError(errors.New("etcd unreachable"))
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	st, err := cc.States.Receive(ctx)
	if err != nil {
		t.Fatalf("no state after a resolver error: %v", err)
	}
	_, err = st.Picker.Pick(balancer.PickInfo{Ctx: ctx})
	if st.ConnectivityState != connectivity.TransientFailure || err == nil || !strings.Contains(err.Error(), "etcd unreachable") {
		t.Fatalf("after a resolver error: state %v, Pick error %v; want TRANSIENT_FAILURE and the resolver's error", st.ConnectivityState, err)
	}
}
