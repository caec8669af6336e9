package ratelimit

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/internal/testutil"
)

// TestCancelledWaitsReturnTheirBooking: requests that book a later slot and
// whose context ends while they wait give the slot back, so that the
// limiter then answers as a twin that never saw them does.
func TestCancelledWaitsReturnTheirBooking(t *testing.T) {
	limiters := []struct {
		name string
		make func(c Clock) (Limiter, error)
	}{
		{"token bucket", func(c Clock) (Limiter, error) { return NewTokenBucket(1, 2, WithClock(c)) }},
		{"sliding window", func(c Clock) (Limiter, error) { return NewSlidingWindow(2, time.Second, WithClock(c)) }},
	}
	for _, lt := range limiters {
		t.Run(lt.name, func(t *testing.T) {
			clock := NewFakeClock(t0)
			lim, err := lt.make(clock)
			if err != nil {
				t.Fatal(err)
			}
			twin, _ := lt.make(clock)
			for _, l := range []Limiter{lim, twin} {
				for range 2 {
					if _, ok := l.Reserve("k", 0); !ok {
						t.Fatal("a fresh key refused its burst")
					}
				}
			}
			const waiters = 2 // each limiter books 2 ahead
			g := newGate(lim, []Option{WithWait(time.Hour), WithClock(clock)}, false)
			ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
			defer cancel()
			var wg sync.WaitGroup
			errs := make(chan error, waiters)
			for range waiters {
				wg.Go(func() {
					_, err := g.admit(ctx, lim, "k", "/m")
					errs <- err
				})
			}
			deadline := time.Now().Add(testutil.DefaultTimeout)
			for clock.Timers() < waiters {
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d waits booked", clock.Timers(), waiters)
				}
				time.Sleep(time.Millisecond)
			}
			cancel()
			wg.Wait()
			close(errs)
			for err := range errs {
				if status.Code(err) != codes.Canceled {
					t.Fatalf("cancelled wait: %v, want Canceled", err)
				}
			}
			for i := range 24 {
				got, gotOK := lim.Reserve("k", 0)
				want, wantOK := twin.Reserve("k", 0)
				if got != want || gotOK != wantOK {
					t.Fatalf("%v after the cancelled waits: Reserve = %v, %v; a limiter that never saw them says %v, %v",
						clock.Now().Sub(t0), got, gotOK, want, wantOK)
				}
				clock.Advance(time.Duration(i%3+1) * 100 * time.Millisecond)
			}
		})
	}
}

// TestHoldLookupAllocatesNothing: while a pushback hold lasts, calls look
// their own hold up without allocating.
func TestHoldLookupAllocatesNothing(t *testing.T) {
	clock := NewFakeClock(t0)
	c := newClientGate(Unlimited, []Option{WithClock(clock)})
	c.notePushback("", "/s/held", "", pushbackMD(time.Minute)) // target "": no ClientConn
	ctx := context.Background()
	if err := c.honourHold(ctx, nil, "", "/s/held"); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a call of the method pushed back: %v, want held", err)
	}
	if err := c.honourHold(ctx, nil, "", "/s/other"); err != nil {
		t.Fatalf("a call of another method is held: %v", err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := c.honourHold(ctx, nil, "", "/s/other"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("looking a hold up allocates %v times per call, want 0", allocs)
	}
}
