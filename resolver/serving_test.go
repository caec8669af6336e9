package resolver_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestSetServing: the server as a whole and every named service answer
// SERVING, a service not named stays unknown, and Shutdown turns them all
// NOT_SERVING for good, SetServing included.
func TestSetServing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	kitresolver.SetServing(hs, "a.v1.A", "b.v1.B")
	check := func(service string, want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		resp, err := hs.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil || resp.GetStatus() != want {
			t.Errorf("Check(%q) = %v, %v; want %v", service, resp.GetStatus(), err, want)
		}
	}
	for _, s := range []string{"", "a.v1.A", "b.v1.B"} {
		check(s, healthpb.HealthCheckResponse_SERVING)
	}
	if _, err := hs.Check(ctx, &healthpb.HealthCheckRequest{Service: "c.v1.C"}); status.Code(err) != codes.NotFound {
		t.Errorf("Check of a service SetServing was not given = %v, want NotFound", err)
	}
	hs.Shutdown()
	kitresolver.SetServing(hs, "a.v1.A")
	for _, s := range []string{"", "a.v1.A", "b.v1.B"} {
		check(s, healthpb.HealthCheckResponse_NOT_SERVING)
	}
}
