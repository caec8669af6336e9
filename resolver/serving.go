package resolver

import (
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// SetServing marks the server as a whole ("") and each named service SERVING
// in hs, the grpc.health.v1 server a registered server serves. Call it once
// the server is listening and before registering it, with etcd or Consul
// alike: Consul's gRPC check, grpc-go's client-side health checking, load
// balancers and Kubernetes probes then see it serving. Before the server
// stops, hs.Shutdown (which consul's Drain calls) marks everything
// NOT_SERVING for good.
func SetServing(hs *health.Server, services ...string) {
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	for _, s := range services {
		hs.SetServingStatus(s, healthpb.HealthCheckResponse_SERVING)
	}
}
