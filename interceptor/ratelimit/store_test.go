package ratelimit

import (
	"hash/maphash"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newCountStore(maxKeys int, idle time.Duration) *store[int] {
	return newStore[int](maxKeys, idle, nil, nil)
}

func TestStoreBound(t *testing.T) {
	const maxKeys = 10 * numShards
	s := newCountStore(maxKeys, time.Hour)
	for i := range 100_000 {
		s.get("key-"+strconv.Itoa(i), t0.Add(time.Duration(i)).UnixNano())
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
	*s.get("a", t0.UnixNano()) = 7
	*s.get("", t0.UnixNano()) = 3
	if got := *s.get("a", t0.Add(time.Minute).UnixNano()); got != 7 {
		t.Errorf("state of a = %d, want 7", got)
	}
	if got := *s.get("", t0.Add(2*time.Hour).UnixNano()); got != 3 {
		t.Errorf("state of the global key = %d, want 3", got)
	}
	if got := s.peek("missing"); got != nil {
		t.Errorf("peek(missing) = %v, want nil", got)
	}
}

// putEntry adds key to shard sh of s as last used at seen, bypassing
// eviction, as if sh held it already.
func putEntry(s *store[int], sh *shard[int], key string, seen time.Time) {
	e := &entry[int]{key: key, hash: maphash.String(s.seed, key)}
	e.seen.Store(seen.UnixNano())
	s.addLocked(sh, e)
}

// holds reports whether shard sh of s holds key.
func holds(s *store[int], sh *shard[int], key string) bool {
	return sh.tab.Load().find(key, maphash.String(s.seed, key)) != nil
}

func TestStoreEvictsIdleKeys(t *testing.T) {
	s := newCountStore(DefaultMaxKeys, time.Minute)
	sh := &s.shards[0]
	for i := range 10 {
		putEntry(s, sh, "idle-"+strconv.Itoa(i), t0)
	}
	putEntry(s, sh, "fresh", t0.Add(2*time.Minute))
	later := t0.Add(2 * time.Minute).UnixNano()
	for sh.live > 1 {
		before := sh.live
		s.evictLocked(sh, later)
		if sh.live >= before {
			t.Fatalf("eviction made no progress at %d keys", before)
		}
	}
	if !holds(s, sh, "fresh") {
		t.Error("the key in use was evicted")
	}
}

func TestStoreLRUEvictsOldest(t *testing.T) {
	s := newCountStore(evictSample, time.Hour) // one shard of evictSample keys
	sh := &s.shards[0]
	for i := range evictSample {
		putEntry(s, sh, strconv.Itoa(i), t0.Add(time.Duration(i+1)*time.Second))
	}
	s.evictLocked(sh, t0.Add(time.Minute).UnixNano())
	if ok := holds(s, sh, "0"); ok || sh.live != evictSample-1 {
		t.Errorf("after eviction the shard holds %d keys, key 0 present %v; want %d, false", sh.live, ok, evictSample-1)
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

func TestStoreFindsEveryKeyAfterGrowing(t *testing.T) {
	s := newCountStore(DefaultMaxKeys, time.Hour)
	const n = 20_000
	for i := range n {
		*s.get("key-"+strconv.Itoa(i), t0.UnixNano()) = i
	}
	if got := s.len(); got != n {
		t.Fatalf("len() = %d, want %d", got, n)
	}
	for i := range n {
		if v := s.peek("key-" + strconv.Itoa(i)); v == nil || *v != i {
			t.Fatalf("peek(key-%d) = %v, want %d", i, v, i)
		}
	}
}

// TestStoreChurnKeepsTablesSmall checks that the tombstones eviction leaves
// behind do not grow the tables: a full store under a stream of new keys
// keeps tables of a size set by the bound, not by the number of keys seen.
func TestStoreChurnKeepsTablesSmall(t *testing.T) {
	s := newCountStore(4*minShardKeys, time.Hour)
	for i := range 200_000 {
		s.get("key-"+strconv.Itoa(i), t0.Add(time.Duration(i)).UnixNano())
	}
	for i := range s.shards {
		sh := &s.shards[i]
		if size := len(sh.tab.Load().slots); size > max(4*sh.limit, minSlots) {
			t.Errorf("shard %d: table of %d slots for at most %d keys", i, size, sh.limit)
		}
		if sh.live > sh.limit {
			t.Errorf("shard %d holds %d keys, want at most %d", i, sh.live, sh.limit)
		}
	}
}

// TestStoreConcurrentGrowth reads keys while other goroutines add keys and
// the tables grow, for the race detector, and checks that state written
// under a key is found again under it.
func TestStoreConcurrentGrowth(t *testing.T) {
	s := newStore[atomic.Int64](DefaultMaxKeys, time.Hour, nil, nil)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 5000 {
				s.get(strconv.Itoa(g)+"-"+strconv.Itoa(i), t0.UnixNano()).Add(1)
				s.get(strconv.Itoa(g)+"-"+strconv.Itoa(i/2), t0.UnixNano()).Add(1)
			}
		})
	}
	wg.Wait()
	for g := range 4 {
		for i := range 5000 {
			want := int64(1)
			if i < 2500 {
				want += 2
			}
			if got := s.peek(strconv.Itoa(g) + "-" + strconv.Itoa(i)).Load(); got != want {
				t.Fatalf("key %d-%d counted %d, want %d", g, i, got, want)
			}
		}
	}
}

// evictAllIdle runs idle eviction on the shard of key until it holds no
// idle entry it may drop, and reports whether key survived.
func evictAllIdle[T any](s *store[T], key string, now int64) bool {
	_, sh, _ := s.lookup(key)
	sh.mu.Lock()
	for range 64 { // samples start at random slots
		s.evictLocked(sh, now)
	}
	sh.mu.Unlock()
	return s.peek(key) != nil
}

func TestStoreKeepsIdleKeysNotAtRest(t *testing.T) {
	s := newStore[int](DefaultMaxKeys, time.Minute, nil, func(v *int, _ int64) bool { return *v == 0 })
	*s.get("busy", t0.UnixNano()) = 1
	s.get("done", t0.UnixNano())
	later := t0.Add(time.Hour).UnixNano()
	if !evictAllIdle(s, "busy", later) {
		t.Error("an idle key whose state is not fresh was evicted")
	}
	if evictAllIdle(s, "done", later) {
		t.Error("an idle key at rest was kept")
	}
	hs := newStore(DefaultMaxKeys, time.Minute, nil, holdExpired)
	hs.get("held", t0.UnixNano()).until.Store(t0.Add(2 * time.Hour).UnixNano())
	if !evictAllIdle(hs, "held", later) {
		t.Error("an idle hold that has not expired was evicted")
	}
	if evictAllIdle(hs, "held", t0.Add(2*time.Hour).UnixNano()) {
		t.Error("an expired hold was kept")
	}
}

// TestIdleKeyInDebtKeepsItsState: a key whose requests booked tokens (or
// window room) ahead stays limited after its idle timeout, until its state
// is fresh again.
func TestIdleKeyInDebtKeepsItsState(t *testing.T) {
	clock := NewFakeClock(t0)
	tb, err := NewTokenBucket(1, 1, WithClock(clock)) // idle timeout: 1s, the refill time
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 { // the bucket is full again 5s from now
		if d, ok := tb.Reserve("k", 10*time.Second); !ok || d != time.Duration(i)*time.Second {
			t.Fatalf("booking %d: Reserve = %v, %v; want %v, true", i, d, ok, time.Duration(i)*time.Second)
		}
	}
	clock.Advance(2 * time.Second)
	if !evictAllIdle(tb.keys, "k", tb.now()) {
		t.Fatal("token bucket: a key in debt was evicted")
	}
	if d, ok := tb.Reserve("k", 0); ok || d != 3*time.Second {
		t.Errorf("token bucket after the idle timeout: Reserve = %v, %v; want 3s, false", d, ok)
	}
	clock.Advance(3 * time.Second)
	if evictAllIdle(tb.keys, "k", tb.now()) {
		t.Error("token bucket: a full bucket was kept")
	}

	sw, err := NewSlidingWindow(1, time.Second, WithClock(clock)) // idle timeout: 2s
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(t0.Add(time.Hour).Sub(clock.Now())) // the start of a window
	if _, ok := sw.Reserve("k", 0); !ok {
		t.Fatal("sliding window: first request refused")
	}
	if d, ok := sw.Reserve("k", 5*time.Second); !ok || d != 2*time.Second-1 {
		t.Fatalf("sliding window: booking = %v, %v; want 2s-1ns, true", d, ok)
	}
	clock.Advance(2 * time.Second)
	if !evictAllIdle(sw.keys, "k", clock.Now().UnixNano()) {
		t.Fatal("sliding window: a key with a booked request in the last window was evicted")
	}
	if d, ok := sw.Reserve("k", 0); ok || d != time.Second {
		t.Errorf("sliding window after the idle timeout: Reserve = %v, %v; want 1s, false", d, ok)
	}
}

// TestWithMaxKeysIsTheBound: a limiter never holds more keys than
// WithMaxKeys asked for, holds exactly that many once enough keys came by,
// and starts evicting only once it holds at least 3/4 of them (all of them
// below 2×minShardKeys, where it uses one shard): the tolerance WithMaxKeys
// documents.
func TestWithMaxKeysIsTheBound(t *testing.T) {
	for _, n := range []int{1, 10, 63, 64, 100, 127, 128, 511, 1000, 4096, 5000, 20_000} {
		for _, kind := range []string{"token bucket", "sliding window"} {
			var l interface {
				Allow(string) bool
				Len() int
			}
			if kind == "token bucket" {
				l, _ = NewTokenBucket(1, 1, WithMaxKeys(n), WithIdleTimeout(time.Hour))
			} else {
				l, _ = NewSlidingWindow(1, time.Second, WithMaxKeys(n), WithIdleTimeout(time.Hour))
			}
			firstEviction := -1
			for i := range 4 * n {
				l.Allow("key-" + strconv.Itoa(i))
				if i < n+1 || i%97 == 0 {
					got := l.Len()
					if got > n {
						t.Fatalf("%s, WithMaxKeys(%d): holds %d keys", kind, n, got)
					}
					if firstEviction < 0 && got < i+1 {
						firstEviction = i
					}
				}
			}
			if got := l.Len(); got != n {
				t.Errorf("%s, WithMaxKeys(%d): holds %d keys after %d, want %d", kind, n, got, 4*n, n)
			}
			want := n
			if n >= 2*minShardKeys {
				want = 3 * n / 4
			}
			if firstEviction < want {
				t.Errorf("%s, WithMaxKeys(%d): first eviction at %d keys, want at least %d", kind, n, firstEviction, want)
			}
		}
	}
}
