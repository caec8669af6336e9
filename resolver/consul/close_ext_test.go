package consul_test

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/internal/testutil"
	"github.com/grpckit/grpckit/registrytest"
	"github.com/grpckit/grpckit/resolver/consul"
)

// TestBuildCloseStress: resolvers built and closed at random moments from
// many goroutines, against a working agent (sorted or near order, with
// snapshots), a black-holed one and a refused one, each Close returning
// within a bound that has nothing to do with the agent (it only cancels and
// waits), without races and, as TestMain checks, without a leaked goroutine.
func TestBuildCloseStress(t *testing.T) {
	t.Parallel()
	const service = "greeter-stress"
	for i := range 3 {
		registerPlain(t, agent.Client(), &api.AgentServiceRegistration{ID: fmt.Sprintf("stress-%d", i), Name: service, Address: "127.0.0.1", Port: 7300 + i})
	}
	hole := registrytest.StartProxy(t, agent.Addr())
	hole.Blackhole()
	dir := t.TempDir()
	b := consul.NewBuilder(consul.WithSnapshotDir(dir), consul.WithToken("stress-token"), consul.WithAllowedAgents("127.0.0.1"))
	refusing := consul.NewBuilder(consul.WithToken("stress-token"))
	targets := []struct {
		b      resolver.Builder
		target string
	}{
		{b, target(service)},
		{b, target(service, "near=_agent")},
		{b, "consul://" + hole.Addr() + "/" + service},
		{refusing, "consul://10.9.9.9:8500/" + service},
	}
	const bound = 3 * time.Second // generous for a loaded machine; the work is a cancel and a wait
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), uint64(time.Now().UnixNano())))
			for range 20 {
				tt := targets[rng.IntN(len(targets))]
				u, _ := url.Parse(tt.target)
				r, err := tt.b.Build(resolver.Target{URL: *u}, testutil.NewResolverClientConn(), resolver.BuildOptions{})
				if err != nil {
					continue // the refused agent
				}
				time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
				start := time.Now()
				r.Close()
				if d := time.Since(start); d > bound {
					t.Errorf("Close of %s took %v, want at most %v", tt.target, d, bound)
				}
			}
		}()
	}
	wg.Wait()
}
