package ratelimit

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

func newCountStore(maxKeys int, idle time.Duration) *store[int] {
	return newStore(maxKeys, idle, t0, func(v *int, _ time.Time) { *v = 0 })
}

func TestStoreBound(t *testing.T) {
	const maxKeys = 10 * numShards
	s := newCountStore(maxKeys, time.Hour)
	for i := range 100_000 {
		s.get("key-"+strconv.Itoa(i), t0.Add(time.Duration(i)))
	}
	if n := s.len(); n > maxKeys {
		t.Errorf("store holds %d keys, want at most %d", n, maxKeys)
	}
	if n := s.len(); n < maxKeys/2 {
		t.Errorf("store holds %d keys, want close to %d", n, maxKeys)
	}
}

func TestStoreKeepsStateOfLiveKeys(t *testing.T) {
	s := newCountStore(DefaultMaxKeys, time.Hour)
	*s.get("a", t0) = 7
	*s.get("", t0) = 3
	if got := *s.get("a", t0.Add(time.Minute)); got != 7 {
		t.Errorf("state of a = %d, want 7", got)
	}
	if got := *s.get("", t0.Add(2*time.Hour)); got != 3 {
		t.Errorf("state of the global key = %d, want 3", got)
	}
	if got := s.peek("missing"); got != nil {
		t.Errorf("peek(missing) = %v, want nil", got)
	}
}

func TestStoreEvictsIdleKeys(t *testing.T) {
	s := newCountStore(DefaultMaxKeys, time.Minute)
	sh := &s.shards[0]
	for i := range 10 {
		e := &entry[int]{}
		e.seen.Store(t0.UnixNano())
		sh.m["idle-"+strconv.Itoa(i)] = e
	}
	fresh := &entry[int]{}
	fresh.seen.Store(t0.Add(2 * time.Minute).UnixNano())
	sh.m["fresh"] = fresh
	later := t0.Add(2 * time.Minute).UnixNano()
	for len(sh.m) > 1 {
		before := len(sh.m)
		s.evictLocked(sh, later)
		if len(sh.m) >= before {
			t.Fatalf("eviction made no progress at %d keys", before)
		}
	}
	if sh.m["fresh"] == nil {
		t.Error("the key in use was evicted")
	}
}

func TestStoreLRUEvictsOldest(t *testing.T) {
	s := newCountStore(numShards*evictSample, time.Hour) // evictSample keys per shard
	sh := &s.shards[0]
	for i := range evictSample {
		e := &entry[int]{}
		e.seen.Store(t0.Add(time.Duration(i+1) * time.Second).UnixNano())
		sh.m[strconv.Itoa(i)] = e
	}
	s.evictLocked(sh, t0.Add(time.Minute).UnixNano())
	if _, ok := sh.m["0"]; ok || len(sh.m) != evictSample-1 {
		t.Errorf("after eviction the shard holds %d keys, key 0 present %v; want %d, false", len(sh.m), ok, evictSample-1)
	}
}

func TestStoreConcurrent(t *testing.T) {
	tb, err := NewTokenBucket(1000, 10, WithMaxKeys(numShards*4))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				tb.Allow(strconv.Itoa((g*7 + i) % 500))
			}
		})
	}
	wg.Wait()
	if n := tb.Len(); n > numShards*4 {
		t.Errorf("Len() = %d, want at most %d", n, numShards*4)
	}
}
