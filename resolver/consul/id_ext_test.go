package consul_test

import (
	"strings"
	"testing"

	"github.com/grpckit/grpckit/internal/testutil"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/consul"
)

// TestUnaddressableIDsAreRefused: the agent accepts a service ID "." or
// "..", but its HTTP API cannot name it in a path (the path is cleaned away),
// so such a registration could be neither checked nor removed: Deregister
// would report success and leave it. Register refuses them before talking to
// the agent, and other unusual IDs round-trip.
func TestUnaddressableIDsAreRefused(t *testing.T) {
	t.Parallel()
	for _, id := range []string{".", ".."} {
		inst := kitresolver.Instance{ID: id, Service: "greeter-ids", Addr: "127.0.0.1:7400"}
		claimID(t, agent.Client(), id)
		r, err := consul.Register(timeoutCtx(t, testutil.DefaultTimeout), agent.Client(), inst, consul.WithTTLCheck(longTTL))
		if err == nil {
			_ = r.Deregister(timeoutCtx(t, testutil.DefaultTimeout))
			t.Errorf("Register(ID %q) succeeded, want it refused", id)
		} else if !strings.HasPrefix(err.Error(), "consul: ") || !strings.Contains(err.Error(), "service ID") {
			t.Errorf("Register(ID %q) = %v, want a consul: error naming the service ID", id, err)
		}
		if services, err := agent.Client().Agent().Services(); err != nil || services[id] != nil {
			t.Errorf("after Register(ID %q) the agent holds it (%v)", id, err)
		}
	}
	for _, id := range []string{"...", "a..b", "a?b#c", "%2e%2e", "ü-1", "svc-[::1]:80"} {
		inst := kitresolver.Instance{ID: id, Service: "greeter-ids", Addr: "127.0.0.1:7400"}
		claimID(t, agent.Client(), id)
		r, err := consul.Register(timeoutCtx(t, testutil.DefaultTimeout), agent.Client(), inst, consul.WithTTLCheck(longTTL))
		if err != nil {
			t.Errorf("Register(ID %q) = %v", id, err)
			continue
		}
		if err := r.Deregister(timeoutCtx(t, testutil.DefaultTimeout)); err != nil {
			t.Errorf("Deregister(ID %q) = %v", id, err)
		}
		if services, err := agent.Client().Agent().Services(); err != nil || services[id] != nil {
			t.Errorf("after Deregister(ID %q) the agent still holds it (%v)", id, err)
		}
	}
}
