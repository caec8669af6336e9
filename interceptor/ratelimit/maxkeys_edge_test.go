package ratelimit

import (
	"math"
	"strconv"
	"testing"
	"time"
)

// storeBound is the number of keys s holds at most: its shards' limits.
func storeBound[T any](s *store[T]) int {
	n := 0
	for i := range s.mask + 1 {
		n += s.shards[i].limit
	}
	return n
}

// TestWithMaxKeysEdges: WithMaxKeys below 1 keeps DefaultMaxKeys, as
// documented; 1 holds one key; math.MaxInt makes a working limiter whose
// bound is that number, with no memory reserved for it up front.
func TestWithMaxKeysEdges(t *testing.T) {
	for _, tc := range []struct{ n, want int }{
		{math.MinInt, DefaultMaxKeys}, {-1, DefaultMaxKeys}, {0, DefaultMaxKeys},
		{1, 1}, {2, 2}, {math.MaxInt, math.MaxInt},
	} {
		tb, err := NewTokenBucket(1, 1, WithMaxKeys(tc.n), WithIdleTimeout(time.Hour))
		if err != nil {
			t.Fatalf("WithMaxKeys(%d): %v", tc.n, err)
		}
		sw, err := NewSlidingWindow(1, time.Second, WithMaxKeys(tc.n), WithIdleTimeout(time.Hour))
		if err != nil {
			t.Fatalf("WithMaxKeys(%d): %v", tc.n, err)
		}
		if a, b := storeBound(tb.keys), storeBound(sw.keys); a != tc.want || b != tc.want {
			t.Fatalf("WithMaxKeys(%d): bounds %d and %d, want %d", tc.n, a, b, tc.want)
		}
		for i := range 50 {
			key := "k" + strconv.Itoa(i)
			if !tb.Allow(key) || !sw.Allow(key) {
				t.Fatalf("WithMaxKeys(%d): a new key %s refused", tc.n, key)
			}
		}
		if want := min(50, tc.want); tb.Len() != want || sw.Len() != want {
			t.Fatalf("WithMaxKeys(%d): %d and %d keys held, want %d", tc.n, tb.Len(), sw.Len(), want)
		}
	}
}
