package load

import (
	"context"
	"testing"
	"time"

	"github.com/grpckit/grpckit/internal/testutil"
)

func TestPercentile(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	sorted := []time.Duration{ms(1), ms(2), ms(3), ms(4), ms(5), ms(6), ms(7), ms(8), ms(9), ms(10)}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0, ms(1)}, {0.5, ms(6)}, {0.99, ms(10)}, {1, ms(10)}} {
		if got := percentile(sorted, tc.q); got != tc.want {
			t.Errorf("percentile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile of nothing = %v, want 0", got)
	}
}

// TestRunShort loads every variant briefly and checks the accounting.
func TestRunShort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	cfg := Config{Concurrency: 4, Round: 150 * time.Millisecond, Rounds: 2}
	res, err := Run(ctx, cfg, Variants)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(Variants) {
		t.Fatalf("%d results for %d variants", len(res), len(Variants))
	}
	for i, r := range res {
		t.Logf("%+v", r)
		if r.Variant != Variants[i].Name {
			t.Errorf("result %d is %q, want %q", i, r.Variant, Variants[i].Name)
		}
		if r.Errors != 0 || r.Requests == 0 || r.QPS <= 0 {
			t.Errorf("%s: %d requests, %d errors, %.0f QPS; want calls and no errors", r.Variant, r.Requests, r.Errors, r.QPS)
		}
		if r.Seconds < 0.3 || r.Seconds > 5 {
			t.Errorf("%s: %.2fs of calls, want about 0.3s", r.Variant, r.Seconds)
		}
		if r.P50 <= 0 || r.P50 > r.P99 {
			t.Errorf("%s: p50 %.0fµs, p99 %.0fµs: want 0 < p50 <= p99", r.Variant, r.P50, r.P99)
		}
	}
}
