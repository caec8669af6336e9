package ratelimit_test

import (
	"context"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/grpckit/grpckit/interceptor/ratelimit"
)

// TestMetricsCountPushbackHolds: a call the client holds back after a
// server's pushback counts as rejected with reason pushback on the client
// side; the calls it lets through count as admitted.
func TestMetricsCountPushbackHolds(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	srv := startPushbackServer(t, "60000")
	clock := ratelimit.NewFakeClock(start)
	c := dialClient(t, srv.Addr, ratelimit.NewClient(ratelimit.Unlimited, ratelimit.WithClock(clock), ratelimit.WithMeterProvider(mp)))
	ctx := testCtx(t)
	srv.push()
	if _, err := callUnary(ctx, c); err == nil {
		t.Fatal("the pushed-back call succeeded")
	}
	for range 3 {
		_, err := callUnary(ctx, c)
		wantHeld(t, err, methodUnary)
	}
	clock.Advance(time.Minute)
	if _, err := callUnary(ctx, c); err != nil {
		t.Fatal(err)
	}
	got := collect(t, reader)
	client := set(ratelimit.AttrSide, "client")
	if v := got[ratelimit.MetricRejected][set(ratelimit.AttrReason, "pushback", ratelimit.AttrSide, "client")]; v != 3 {
		t.Errorf("rejected by pushback = %v, want 3 (all: %v)", v, got[ratelimit.MetricRejected])
	}
	if v := got[ratelimit.MetricAdmitted][client]; v != 2 {
		t.Errorf("admitted = %v, want 2 (the pushed-back call and the one after the hold)", v)
	}
}
