package ratelimit

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// numShards splits the keyed store so that requests under different keys
// rarely share a lock. A power of two.
const numShards = 64

// evictSample is how many entries an insert into a full shard looks at to
// choose the least recently used one to evict (sampled LRU).
const evictSample = 8

// idleSample is how many entries every insert looks at for idle eviction.
const idleSample = 2

// entry is the state of one key and when it was last used.
type entry[T any] struct {
	seen atomic.Int64 // unix nanoseconds of the last use
	val  T
}

// shard is one lock's worth of keys. Padding keeps shards on separate cache
// lines.
type shard[T any] struct {
	mu sync.RWMutex
	m  map[string]*entry[T] // guarded by mu
	_  [64 - 32]byte
}

// store maps keys to per-key state with a memory bound: at most perShard keys
// per shard (the least recently used of a sample is evicted to make room),
// and entries idle for longer than idle are evicted as inserts come by. The
// global key "" lives outside the shards and is never evicted.
//
// A key that is evicted starts again from fresh state; with the default idle
// timeout, fresh state is what an idle key would have had anyway.
type store[T any] struct {
	global   entry[T]
	init     func(v *T, now time.Time)
	seed     maphash.Seed
	perShard int
	idle     int64 // nanoseconds
	touch    int64 // nanoseconds: how stale seen may get before get updates it
	shards   [numShards]shard[T]
}

func newStore[T any](maxKeys int, idle time.Duration, now time.Time, init func(*T, time.Time)) *store[T] {
	s := &store[T]{
		init:     init,
		seed:     maphash.MakeSeed(),
		perShard: max(maxKeys/numShards, 1),
		idle:     int64(idle),
		touch:    max(int64(idle)/16, int64(time.Millisecond)),
	}
	init(&s.global.val, now)
	for i := range s.shards {
		s.shards[i].m = make(map[string]*entry[T])
	}
	return s
}

// get returns the state of key, creating it if needed, and marks it used at
// now.
func (s *store[T]) get(key string, now time.Time) *T {
	if key == "" {
		return &s.global.val
	}
	sh := &s.shards[maphash.String(s.seed, key)&(numShards-1)]
	sh.mu.RLock()
	e := sh.m[key]
	sh.mu.RUnlock()
	if e == nil {
		e = s.insert(sh, key, now)
	}
	// Writing seen only when it is stale keeps the entry's cache line
	// clean for readers on other cores.
	if ns := now.UnixNano(); ns-e.seen.Load() >= s.touch {
		e.seen.Store(ns)
	}
	return &e.val
}

// peek returns the state of key, or nil if there is none. It neither
// creates the key nor marks it used.
func (s *store[T]) peek(key string) *T {
	if key == "" {
		return &s.global.val
	}
	sh := &s.shards[maphash.String(s.seed, key)&(numShards-1)]
	sh.mu.RLock()
	e := sh.m[key]
	sh.mu.RUnlock()
	if e == nil {
		return nil
	}
	return &e.val
}

// insert adds key to sh unless another goroutine got there first.
func (s *store[T]) insert(sh *shard[T], key string, now time.Time) *entry[T] {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e := sh.m[key]; e != nil {
		return e
	}
	s.evictLocked(sh, now.UnixNano())
	e := &entry[T]{}
	e.seen.Store(now.UnixNano())
	s.init(&e.val, now)
	// A copy, so the store never pins a larger string the key was cut from.
	sh.m[strings.Clone(key)] = e
	return e
}

// evictLocked drops idle entries from a small sample of sh and, if sh is
// still full, the least recently used entry of a larger sample. Map
// iteration starts at a random place, which makes the samples random.
func (s *store[T]) evictLocked(sh *shard[T], now int64) {
	n := 0
	for k, e := range sh.m {
		if n == idleSample {
			break
		}
		if now-e.seen.Load() >= s.idle {
			delete(sh.m, k)
		}
		n++
	}
	if len(sh.m) < s.perShard {
		return
	}
	oldestKey, oldest := "", int64(0)
	n = 0
	for k, e := range sh.m {
		if n == evictSample {
			break
		}
		if seen := e.seen.Load(); n == 0 || seen < oldest {
			oldestKey, oldest = k, seen
		}
		n++
	}
	delete(sh.m, oldestKey)
	if logger.V(2) {
		logger.Infof("ratelimit: store full, evicted the least recently used of %d sampled keys", n)
	}
}

// len returns the number of keys held, not counting the global key.
func (s *store[T]) len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}
