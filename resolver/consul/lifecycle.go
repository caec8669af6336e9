package consul

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
)

// drainPoll is how often Drain asks Consul whether it still serves the
// instance.
const drainPoll = 50 * time.Millisecond

// Drain takes the instance out of service before the server stops: it marks
// every service in hs NOT_SERVING for good (hs may be nil in TTL mode), fails
// the TTL check in TTL mode, waits until Consul no longer lists the instance
// as passing (so clients' resolvers drop it), then deregisters it. The wait
// ends with ctx, and in any case after two check periods (the check interval,
// a third of the TTL in TTL mode) plus the request timeout
// (WithRequestTimeout), so a shutdown never hangs on an unreachable agent;
// an agent that refuses connections ends it at once. When the wait ends
// early, Drain still deregisters (which stops the registrar, so nothing
// registers the stopped server again) and returns both outcomes.
// Deregistering is bounded as Deregister is, and gives up at once when the
// agent refuses connections. A registration another one
// replaced (see Register) has nothing to drain: Drain then leaves the
// other's check alone and only stops.
func (r *Registration) Drain(ctx context.Context, hs *health.Server) error {
	if hs != nil {
		hs.Shutdown()
	}
	r.serving.Store(false)
	wctx, cancel := context.WithTimeout(ctx, r.drainTimeout())
	defer cancel()
	if own, err := r.ownership(wctx); err == nil && own != owned {
		return r.Deregister(ctx)
	}
	if r.cfg.ttl > 0 {
		if err := r.updateTTL(wctx); err != nil {
			vlogf("grpckit/consul: failing the TTL of %s: %v", r.reg.ID, err)
		}
	}
	if err := r.waitNotPassing(wctx); err != nil {
		// Deregister even so: it stops the registrar, which would otherwise
		// register the stopping server again once the agent answers.
		return errors.Join(err, r.Deregister(ctx))
	}
	return r.Deregister(ctx)
}

// drainTimeout bounds Drain's wait: two check periods for the check to run
// and fail, plus the request timeout for the queries.
func (r *Registration) drainTimeout() time.Duration {
	return 2*r.cfg.period() + r.cfg.requestTimeout
}

// waitNotPassing polls the catalog until the instance is not among the
// passing instances of its service.
func (r *Registration) waitNotPassing(ctx context.Context) error {
	for {
		entries, _, err := r.cli.Health().Service(r.reg.Name, "", true, (&api.QueryOptions{}).WithContext(ctx))
		if err == nil && !slices.ContainsFunc(entries, r.isMe) {
			return nil
		}
		if isConnRefused(err) {
			return fmt.Errorf("consul: draining %s: the agent is not listening: %w", r.reg.ID, err)
		}
		if !sleep(ctx, drainPoll) {
			return fmt.Errorf("consul: draining %s: Consul still lists it as passing: %w", r.reg.ID, errors.Join(ctx.Err(), err))
		}
	}
}

func (r *Registration) isMe(e *api.ServiceEntry) bool {
	return e.Service != nil && e.Service.ID == r.reg.ID
}

// GracefulStop drains reg (see Drain) and then stops srv gracefully, letting
// in-flight RPCs finish. srv is stopped even when draining fails, whose error
// is returned. Draining is bounded whatever ctx (see Drain); the graceful stop
// waits for the in-flight RPCs. A nil reg (a server that never registered)
// has nothing to drain: srv is stopped and the error says reg was nil.
func GracefulStop(ctx context.Context, srv *grpc.Server, hs *health.Server, reg *Registration) error {
	if reg == nil {
		if hs != nil {
			hs.Shutdown()
		}
		srv.GracefulStop()
		return errors.New("consul: GracefulStop with a nil Registration: stopped the server without draining")
	}
	err := reg.Drain(ctx, hs)
	srv.GracefulStop()
	return err
}
