package ratelimit

import (
	"context"
	"math"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
)

// holdLength notes trailer as the pushback of a failed call on a client
// gate with maxHold, and returns how long calls are then held back: 0 for
// not at all. It steps the fake clock to the hold's last nanosecond and past
// it, so a hold longer than it says fails the caller's check.
func holdLength(t *testing.T, maxHold time.Duration, trailer metadata.MD) time.Duration {
	t.Helper()
	clock := NewFakeClock(time.Unix(1_700_000_000, 0))
	g := newClientGate(Unlimited, []Option{WithClock(clock), WithMaxPushback(maxHold)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g.notePushback("", "/m", "k", trailer)
	if err := g.honourHold(ctx, nil, "k", "/m"); err == nil {
		return 0
	}
	h := g.peekHold("", "/m", "k")
	if h == nil {
		t.Fatalf("trailer %v: a call was held back but no hold is stored", trailer)
	}
	d := time.Duration(h.until.Load() - clock.Now().UnixNano())
	if d <= 0 {
		t.Fatalf("trailer %v: held back by a hold of %v", trailer, d)
	}
	clock.Advance(d - 1)
	if err := g.honourHold(ctx, nil, "k", "/m"); err == nil {
		t.Fatalf("trailer %v: released %v into a hold of %v", trailer, d-1, d)
	}
	clock.Advance(1)
	if err := g.honourHold(ctx, nil, "k", "/m"); err != nil {
		t.Fatalf("trailer %v: still held after the hold of %v: %v", trailer, d, err)
	}
	return d
}

// TestHostilePushbackTrailers: whatever a server puts in the pushback
// trailer, the client holds calls back for at most WithMaxPushback, never
// panics, and a trailer gRPC's retry policy would not read as a delay (none,
// empty, malformed, negative, several values, out of range) holds nothing.
func TestHostilePushbackTrailers(t *testing.T) {
	const maxHold = time.Second
	for _, tc := range []struct {
		name   string
		values []string
		want   time.Duration
	}{
		{"none", nil, 0},
		{"empty", []string{""}, 0},
		{"zero", []string{"0"}, 0},
		{"negative", []string{"-1"}, 0},
		{"negative zero", []string{"-0"}, 0},
		{"fraction", []string{"1.5"}, 0},
		{"spaces", []string{" 5"}, 0},
		{"hex", []string{"0x10"}, 0},
		{"letters", []string{"abc"}, 0},
		{"fullwidth digits", []string{"５"}, 0},
		{"control char", []string{"5\x00"}, 0},
		{"beyond int64", []string{"99999999999999999999"}, 0},
		{"several values", []string{"100", "200"}, 0},
		{"several values one bad", []string{"abc", "200"}, 0},
		{"valid", []string{"100"}, 100 * time.Millisecond},
		{"plus sign", []string{"+100"}, 100 * time.Millisecond},
		{"above the cap", []string{"5000"}, maxHold},
		{"largest", []string{"9223372036854"}, maxHold},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md := metadata.MD{}
			if tc.values != nil {
				md[PushbackTrailer] = tc.values
			}
			if got := holdLength(t, maxHold, md); got != tc.want {
				t.Fatalf("trailer %q: held back for %v, want %v", tc.values, got, tc.want)
			}
		})
	}
}

// TestHugePushbackUnderHugeCap: with a cap past what Unix nanoseconds can
// hold, the longest pushback still holds calls back, as long as time can
// say, instead of wrapping around to no hold at all.
func TestHugePushbackUnderHugeCap(t *testing.T) {
	md := metadata.Pairs(PushbackTrailer, "9223372036854")
	if got := holdLength(t, math.MaxInt64, md); got <= 0 {
		t.Fatalf("a pushback of 292 years under an unbounded cap held back for %v", got)
	}
}
