package consul_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/grpckit/grpckit/internal/greeter"
	"github.com/grpckit/grpckit/internal/testutil"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/consul"
)

// TestClientStartedBeforeChecksPass: a client of consul:///svc?healthy=true
// started before its only instance's check passes sends that instance
// nothing (its RPCs fail), and is served by it once Consul reports the check
// passing, without being restarted: the blocking query brings the change.
// The same holds while a Register(WithWaitPassing) is still waiting for the
// check, which then returns without error.
func TestClientStartedBeforeChecksPass(t *testing.T) {
	t.Parallel()
	for _, waitPassing := range []bool{false, true} {
		t.Run(fmt.Sprintf("WithWaitPassing=%v", waitPassing), func(t *testing.T) {
			t.Parallel()
			service := fmt.Sprintf("greeter-early-%v", waitPassing)
			g := greeter.Start(t, kitresolver.Instance{Service: service, ID: service + "-1"})
			claimID(t, agent.Client(), g.Instance().ID)
			g.Health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING) // the check fails until SERVING

			// The client starts first, before anything is registered.
			c, _ := dial(t, target(service, "healthy=true"), consul.NewBuilder())
			if _, err := hello(timeoutCtx(t, testutil.DefaultTimeout), c); err == nil {
				t.Fatal("an RPC succeeded before any instance was registered")
			}

			opts := []consul.RegisterOption{consul.WithCheckInterval(testInterval)}
			if waitPassing {
				opts = append(opts, consul.WithWaitPassing())
			}
			type result struct {
				reg *consul.Registration
				err error
			}
			registered := make(chan result, 1)
			ctx := timeoutCtx(t, 2*testutil.DefaultTimeout)
			go func() {
				reg, err := consul.Register(ctx, agent.Client(), g.Instance(), opts...)
				registered <- result{reg, err}
			}()
			t.Cleanup(func() {
				if r := <-registered; r.err == nil { // Register has returned: ctx ended at the latest
					_ = r.reg.Deregister(timeoutCtx(t, testutil.DefaultTimeout))
				}
			})
			done := func() {
				t.Helper()
				select {
				case r := <-registered:
					registered <- r // for the cleanup
					if r.err != nil {
						t.Fatalf("Register: %v", r.err)
					}
				case <-ctx.Done():
					t.Fatal("Register did not return")
				}
			}
			if !waitPassing {
				done()
			}

			// Registered, with a check that cannot pass: the client still
			// sends the instance nothing.
			waitCheckStatus(t, "service:"+g.Instance().ID, api.HealthCritical)
			if _, err := hello(timeoutCtx(t, testutil.DefaultTimeout), c); err == nil {
				t.Fatal("an RPC succeeded while the only instance's check was critical")
			}
			if n := g.Calls(); n != 0 {
				t.Fatalf("the instance got %d calls while its check was critical, want 0", n)
			}
			if waitPassing {
				select {
				case r := <-registered:
					registered <- r
					t.Fatalf("Register(WithWaitPassing) returned (%v) while the check was critical", r.err)
				default:
				}
			}

			// The check passes: the same client is served by the instance.
			g.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
			if waitPassing {
				done() // returns once Consul lists the instance as passing
			}
			waitServedBy(t, c, g.Instance().ID)
		})
	}
}

// waitCheckStatus polls the agent until the check exists with status want,
// and fails the test at the deadline.
func waitCheckStatus(t *testing.T, checkID, want string) {
	t.Helper()
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	var got string
	for ctx.Err() == nil {
		checks, err := agent.Client().Agent().Checks()
		if err == nil && checks[checkID] != nil {
			if got = checks[checkID].Status; got == want {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("check %s is %q, want %q", checkID, got, want)
}
