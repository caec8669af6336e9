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
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// drainPoll is how often Drain asks Consul whether it still serves the
// instance.
const drainPoll = 50 * time.Millisecond

// SetServing marks the server as a whole ("") and each named service SERVING
// in hs. Call it once the server is listening, so Consul's gRPC check passes
// and clients start sending.
func SetServing(hs *health.Server, services ...string) {
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	for _, s := range services {
		hs.SetServingStatus(s, healthpb.HealthCheckResponse_SERVING)
	}
}

// Drain takes the instance out of service before the server stops: it marks
// every service in hs NOT_SERVING for good (hs may be nil in TTL mode), fails
// the TTL check in TTL mode, waits until Consul no longer lists the instance
// as passing (so clients' resolvers drop it), then deregisters it. ctx bounds
// the wait; when it ends first, the instance is left registered and the error
// says so. A registration another one replaced (see Register) has nothing to
// drain: Drain then leaves the other's check alone and only stops.
func (r *Registration) Drain(ctx context.Context, hs *health.Server) error {
	if hs != nil {
		hs.Shutdown()
	}
	r.serving.Store(false)
	if own, err := r.ownership(ctx); err == nil && own != owned {
		return r.Deregister(ctx)
	}
	if r.cfg.ttl > 0 {
		if err := r.updateTTL(ctx); err != nil {
			vlogf("grpckit/consul: failing the TTL of %s: %v", r.reg.ID, err)
		}
	}
	if err := r.waitNotPassing(ctx); err != nil {
		return err
	}
	return r.Deregister(ctx)
}

// waitNotPassing polls the catalog until the instance is not among the
// passing instances of its service.
func (r *Registration) waitNotPassing(ctx context.Context) error {
	for {
		entries, _, err := r.cli.Health().Service(r.reg.Name, "", true, (&api.QueryOptions{}).WithContext(ctx))
		if err == nil && !slices.ContainsFunc(entries, r.isMe) {
			return nil
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
// is returned.
func GracefulStop(ctx context.Context, srv *grpc.Server, hs *health.Server, reg *Registration) error {
	err := reg.Drain(ctx, hs)
	srv.GracefulStop()
	return err
}
